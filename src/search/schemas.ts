import { z } from "@hono/zod-openapi";
import { PageQuery } from "../lib/pagination";
import { PublicProfile } from "../users/schemas";

export const SEARCH_QUERY_MAX = 100;

export const UserSearchQuery = PageQuery.extend({
  q: z
    .string()
    .trim()
    .min(1)
    .max(SEARCH_QUERY_MAX)
    .openapi({
      example: "ali",
      description:
        "1–100 characters. Words of letters, digits and _ (other characters separate words; a leading @ is ignored). " +
        "Every word must match the start of a word in the username, display name or bio; case and accents are ignored.",
    }),
});

export const UserSearchResult = z
  .object({
    items: z.array(PublicProfile),
    nextCursor: z.string().nullable(),
  })
  .openapi("UserSearchResult");
