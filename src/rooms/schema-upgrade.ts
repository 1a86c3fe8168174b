/**
 * Bring an older room's `table` up to today's columns: each of `columns` ([name, definition]) it
 * lacks is added. SQLite has no `ADD COLUMN IF NOT EXISTS`, so the table's columns are read first
 * (one cheap catalog lookup per room start). Answers the names it added.
 */
export function addMissingColumns(sql: SqlStorage, table: string, columns: readonly [name: string, definition: string][]): string[] {
  const have = new Set(
    sql
      .exec<{ name: string }>(`PRAGMA table_info(${table})`)
      .toArray()
      .map((c) => c.name),
  );
  const added: string[] = [];
  for (const [name, definition] of columns) {
    if (have.has(name)) continue;
    sql.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${definition}`);
    added.push(name);
  }
  return added;
}
