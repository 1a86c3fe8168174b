// Tables, one file per module, each followed by the row types other modules share (`UserRow`, `ChatRow`, …),
// so no module has to import another just for a row type.
export * from "./auth";
export * from "./bots";
export * from "./calls";
export * from "./chats";
export * from "./counters";
export * from "./keys";
export * from "./media";
export * from "./platform";
export * from "./security";
export * from "./social";
export * from "./stories";
export * from "./users";
