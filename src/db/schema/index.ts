export * from "./auth";
export * from "./chats";
export * from "./counters";
export * from "./security";
export * from "./social";
export * from "./users";
