// Code messages: which identifiers can receive a code (codeTarget) and what each purpose's message
// says. How a message leaves is the route's Deliver.

import { AppError } from "../../lib/errors";
import { MINUTE } from "../../lib/time";
import type { Channel, OutgoingMessage } from "../../notify/notifier";
import { classifyIdentifier } from "../identifiers";
import { Email, Phone } from "../schemas";
import { CODE_TTL_MS, type Purpose } from "./codes";

/** Hands a message to the notifier; the route decides whether the answer waits for it. */
export type Deliver = (message: OutgoingMessage) => Promise<void>;

const TTL_TEXT = `${CODE_TTL_MS / MINUTE} minutes`;
const MESSAGES: Record<Purpose, { kind: string; subject: string; text: (code: string) => string }> = {
  login: {
    kind: "otp.login",
    subject: "Your sign-in code",
    text: (code) => `Your sign-in code is ${code}. It expires in ${TTL_TEXT}. If you did not try to sign in, ignore this message.`,
  },
  verify: {
    kind: "otp.verify",
    subject: "Your verification code",
    text: (code) => `Your verification code is ${code}. It expires in ${TTL_TEXT}. If you did not ask for it, ignore this message.`,
  },
  // One text whether the address has an account or not: the code signs in or signs up alike.
  signup: {
    kind: "otp.signup",
    subject: "Your code",
    text: (code) => `Your code is ${code}. It expires in ${TTL_TEXT}. If you did not ask for it, ignore this message.`,
  },
  reset: {
    kind: "password.reset",
    subject: "Reset your password",
    text: (code) =>
      `Your password reset code is ${code}. It expires in ${TTL_TEXT}. ` +
      "If you did not ask to reset your password, ignore this message: your password has not changed.",
  },
};

/** The message carrying `code` for `purpose` to `to` over `channel`. */
export const codeMessage = (purpose: Purpose, channel: Channel, to: string, code: string): OutgoingMessage => ({
  channel,
  to,
  kind: MESSAGES[purpose].kind,
  subject: MESSAGES[purpose].subject,
  text: MESSAGES[purpose].text(code),
});

const badIdentifier = (message: string) =>
  new AppError(400, "validation_failed", `Invalid body.identifier: ${message}`, [
    { path: "body.identifier", code: "invalid_format", message },
  ]);

/**
 * Normalize a code identifier: an email or an E.164 phone (usernames cannot receive codes). With
 * `channel`, the identifier's kind must match it (`400 channel_mismatch`).
 */
export function codeTarget(identifier: string, channel?: Channel): { target: string; channel: Channel } {
  const { kind, value } = classifyIdentifier(identifier);
  const implied: Channel | null = kind === "email" ? "email" : kind === "phone" ? "sms" : null;
  if (channel && implied !== channel) {
    throw new AppError(
      400,
      "channel_mismatch",
      channel === "email"
        ? 'Channel "email" needs an email address as identifier'
        : 'Channel "sms" needs an E.164 phone number (+14155550100) as identifier',
      { channel, identifierKind: kind },
    );
  }
  if (!implied) throw badIdentifier("must be an email address or an E.164 phone number");
  if (kind === "email" && !Email.safeParse(value).success) throw badIdentifier("Not a valid email address");
  if (kind === "phone" && !Phone.safeParse(value).success) throw badIdentifier("Phone must be in E.164 form, e.g. +14155550100");
  return { target: value, channel: implied };
}
