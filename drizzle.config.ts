import { defineConfig } from "drizzle-kit";

// `npm run db:generate` turns changes in src/db/schema into a new numbered SQL file in
// migrations/, which wrangler applies (locally in `npm start`, remotely in `npm run deploy`).
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema/index.ts",
  out: "./migrations",
});
