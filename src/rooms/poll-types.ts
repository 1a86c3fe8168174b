/**
 * Poll shapes shared by the Worker and the ChatRoom (RPC arguments and results): what a sender
 * asks for, what the room stores, and what one viewer sees.
 */

/** A poll as a sender asks for it (validated by rooms/poll-input.ts). */
export interface PollInput {
  question: string;
  options: { text: string }[];
  multipleChoice?: boolean;
  /** Default true: nobody sees who voted for what. */
  anonymous?: boolean;
  /** A quiz: one correct option (an index into `options`), single choice. */
  quiz?: { correctOption: number; explanation?: string };
  /** Default true: counts and voters stay hidden from a viewer until they vote or the poll closes. */
  hideResultsUntilVoted?: boolean;
  /** Closes by itself at this time (ISO 8601, at most a year ahead). */
  closesAt?: string;
}

/** A poll as the room stores it (its close times live in their own columns). */
export interface PollDefinition {
  question: string;
  /** Ids are assigned by the server: "0", "1", … in the order given. */
  options: { id: string; text: string }[];
  multipleChoice: boolean;
  anonymous: boolean;
  hideResultsUntilVoted: boolean;
  quiz: { correctOptionId: string; explanation: string | null } | null;
  creatorId: string;
}

export interface PollOptionView {
  id: string;
  text: string;
  /** Votes for this option; null while the results are hidden from this viewer. */
  votes: number | null;
  /** Who voted for it (public polls, results visible); null otherwise. */
  voters: string[] | null;
}

/** A poll as one viewer sees it (`Message.poll`). */
export interface PollView {
  question: string;
  options: PollOptionView[];
  multipleChoice: boolean;
  anonymous: boolean;
  hideResultsUntilVoted: boolean;
  /** Whether counts (and, in public polls, voters) are shown to this viewer. */
  resultsVisible: boolean;
  /** People who voted (always shown). */
  totalVoters: number;
  /** This viewer's options ([] for none, and in broadcast frames). */
  myVotes: string[];
  quiz: boolean;
  /** Quizzes: the correct option, once this viewer voted or the poll closed (always for its creator); else null. */
  correctOptionId: string | null;
  explanation: string | null;
  closed: boolean;
  closesAt: string | null;
  closedAt: string | null;
}
