export * from "./users";
export * from "./auth";
export * from "./security";
export * from "./social";
export * from "./chats";
export * from "./counters";
