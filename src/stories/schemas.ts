import { z } from "@hono/zod-openapi";
import { PageQuery } from "../lib/pagination";
import { MessageResponse, MessageText } from "../messages/schemas";
import { PublicProfile } from "../users/schemas";

/** How long a story stays up. */
export const STORY_LIFETIME_MS = 24 * 60 * 60 * 1000;
/** Longest text of a text story. */
export const STORY_TEXT_MAX = 2000;
/** Longest caption of an image or video story. */
export const CAPTION_MAX = 1000;
/** Most people in one audience list (`userIds` or `exceptUserIds`). */
export const AUDIENCE_LIST_MAX = 500;
/** The fonts clients know how to draw a text story in. */
export const STORY_FONTS = ["sans", "serif", "mono", "rounded", "handwriting"] as const;
export const AUDIENCE_KINDS = ["everyone", "contacts", "close_friends", "selected"] as const;

const Id = z.uuid().openapi({ example: "01930f3e-8d4a-7c1e-9d2b-5a7f3c2e1b0a" });
export const StoryIdParam = z.object({ id: Id.openapi({ param: { name: "id", in: "path" } }) });
export { PageQuery };

const IdList = z
  .array(Id)
  .max(AUDIENCE_LIST_MAX)
  .openapi({ description: `At most ${AUDIENCE_LIST_MAX} user ids; duplicates are ignored` });

export const Audience = z
  .strictObject({
    kind: z.enum(AUDIENCE_KINDS).openapi({
      description:
        "everyone: any signed-in user; contacts: people in my contacts list (people I added); close_friends: my " +
        "close-friends list at the time each viewer looks; selected: exactly `userIds`",
    }),
    userIds: IdList.optional().openapi({ description: "Required (at least one) for `selected`, refused otherwise" }),
    exceptUserIds: IdList.optional().openapi({ description: "Never shown to these people, whatever the kind" }),
  })
  .superRefine((a, ctx) => {
    if (a.kind === "selected" && !a.userIds?.length)
      ctx.addIssue({ code: "custom", path: ["userIds"], message: "A selected audience needs at least one user id" });
    if (a.kind !== "selected" && a.userIds !== undefined)
      ctx.addIssue({ code: "custom", path: ["userIds"], message: "userIds are only for the selected audience" });
  })
  .openapi("StoryAudience");
export type AudienceInput = z.infer<typeof Audience>;

const Caption = z
  .string()
  .trim()
  .max(CAPTION_MAX)
  .optional()
  .openapi({ description: `Up to ${CAPTION_MAX} characters` });
const MediaId = Id.openapi({
  description: "My own media item uploaded with purpose `story` (image/* for image, video/* for video), not used by another story",
});

export const CreateStoryBody = z
  .discriminatedUnion("type", [
    z.strictObject({
      type: z.literal("text"),
      text: z
        .string()
        .trim()
        .min(1)
        .max(STORY_TEXT_MAX)
        .openapi({ description: `1–${STORY_TEXT_MAX} characters` }),
      background: z
        .string()
        .regex(/^#[0-9a-fA-F]{6}$/, "A colour as #rrggbb")
        .default("#000000")
        .openapi({ description: "A colour as `#rrggbb` (default black)", example: "#1e90ff" }),
      font: z.enum(STORY_FONTS).default("sans"),
      audience: Audience,
    }),
    z.strictObject({ type: z.literal("image"), mediaId: MediaId, caption: Caption, audience: Audience }),
    z.strictObject({ type: z.literal("video"), mediaId: MediaId, caption: Caption, audience: Audience }),
  ])
  .openapi("CreateStoryRequest");
export type CreateStoryInput = z.infer<typeof CreateStoryBody>;

export const Story = z
  .object({
    id: z.string(),
    authorId: z.string(),
    type: z.enum(["text", "image", "video"]),
    text: z.string().nullable(),
    background: z.string().nullable(),
    font: z.string().nullable(),
    mediaId: z.string().nullable().openapi({ description: "Its bytes: GET /media/{id} (readable by this story's audience)" }),
    mimeType: z.string().nullable(),
    caption: z.string().nullable(),
    createdAt: z.string(),
    expiresAt: z.string(),
    viewed: z.boolean().openapi({ description: "I viewed it (always true for my own stories)" }),
    audience: z.enum(AUDIENCE_KINDS).nullable().openapi({ description: "Only for my own stories; null otherwise" }),
    viewCount: z.number().int().nullable().openapi({ description: "Distinct viewers; only for my own stories, null otherwise" }),
  })
  .openapi("Story");
export type StoryView = z.infer<typeof Story>;

export const StoryResponse = z.object({ story: Story });
export const StoryPage = z.object({ items: z.array(Story), nextCursor: z.string().nullable() }).openapi("StoryPage");

export const FeedEntry = z
  .object({
    author: PublicProfile,
    stories: z.array(Story).openapi({ description: "The author's live stories I may see, oldest first" }),
    hasUnviewed: z.boolean(),
    latestAt: z.string().openapi({ description: "When the newest of these stories was posted" }),
  })
  .openapi("StoryFeedEntry");
export const Feed = z
  .object({ authors: z.array(FeedEntry), nextCursor: z.string().nullable() })
  .openapi("StoryFeed", { description: "Authors with stories I have not viewed first, then by their newest story" });

export const FeedQuery = z.object({
  limit: z.coerce.number().int().min(1).max(50).default(20).openapi({ description: "Authors per page (1–50)" }),
  cursor: PageQuery.shape.cursor,
});

export const StoryViewer = z.object({ user: PublicProfile, viewedAt: z.string() }).openapi("StoryViewer");
export const ViewersPage = z
  .object({ items: z.array(StoryViewer), nextCursor: z.string().nullable() })
  .openapi("StoryViewersPage", { description: "Newest view first" });

export const ReplyBody = z
  .strictObject({
    text: MessageText,
    clientMessageId: z.string().min(1).max(64).optional().openapi({
      description: "As for messages: a retry with the same id returns the stored message (200); a fresh id when omitted",
    }),
  })
  .openapi("StoryReplyRequest");
export { MessageResponse };
