import { expect } from "vitest";
import { C, cid, sendRaw } from "./chat-helpers";
import { api, type TestUser } from "./helpers";

/** Helpers for the poll tests: sending polls, voting, retracting, closing, reading a poll as one member sees it. */

export const options = (...texts: string[]) => texts.map((text) => ({ text }));
export const sendPoll = (u: TestUser, chatId: string, poll: Record<string, unknown>) =>
  sendRaw(u, chatId, { clientMessageId: cid(), type: "poll", poll });
export async function poll(u: TestUser, chatId: string, extra: Record<string, unknown> = {}) {
  const res = await sendPoll(u, chatId, { question: "Lunch?", options: options("pizza", "sushi", "salad"), ...extra });
  expect(res.status, res.text).toBe(201);
  return res.body.message;
}
export const at = (chatId: string, messageId: string, tail = "") => `${C}/${chatId}/messages/${messageId}${tail}`;
export const vote = (u: TestUser, chatId: string, messageId: string, optionIds: string[]) =>
  api("POST", at(chatId, messageId, "/votes"), { token: u.accessToken, body: { optionIds } });
export const retract = (u: TestUser, chatId: string, messageId: string) =>
  api("DELETE", at(chatId, messageId, "/votes"), { token: u.accessToken });
export const close = (u: TestUser, chatId: string, messageId: string) =>
  api("POST", at(chatId, messageId, "/close-poll"), { token: u.accessToken });
export const view = async (u: TestUser, chatId: string, messageId: string) => {
  const res = await api("GET", at(chatId, messageId), { token: u.accessToken });
  expect(res.status, res.text).toBe(200);
  return res.body.message.poll;
};
export const voted = async (u: TestUser, chatId: string, messageId: string, optionIds: string[]) => {
  const res = await vote(u, chatId, messageId, optionIds);
  expect(res.status, res.text).toBe(200);
  return res.body.message.poll;
};
export const events = async (u: TestUser, chatId: string) =>
  (await api("GET", `${C}/${chatId}/events?after=0`, { token: u.accessToken })).body.events as any[];
