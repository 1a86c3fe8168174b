import { newRouter } from "../lib/openapi";

const app = newRouter();

export default app;
