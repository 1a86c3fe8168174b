import { v7 as uuidv7 } from "uuid";

/** A new time-sortable id (UUIDv7) for any row. */
export const newId = (): string => uuidv7();
