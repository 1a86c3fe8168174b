import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

const build = (d1: D1Database) => drizzle(d1, { schema });
export type Database = ReturnType<typeof build>;

/** Building the client walks the whole schema; one per D1 binding is enough. */
const clients = new WeakMap<D1Database, Database>();

/** The typed drizzle client of a D1 binding (built once per binding object and reused). */
export function createDb(d1: D1Database): Database {
  let db = clients.get(d1);
  if (!db) {
    db = build(d1);
    clients.set(d1, db);
  }
  return db;
}

export { schema };
