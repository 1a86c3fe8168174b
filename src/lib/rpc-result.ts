import { AppError } from "./errors";

/** Flat JSON: error details that cross the RPC boundary. */
export type RpcDetails = { [key: string]: string | number | boolean | null | string[] | undefined };

/**
 * A Durable Object's answer across RPC: its value, or the AppError it raised as data (custom
 * error classes do not survive the RPC boundary; a plain Error would lose the status and code).
 */
export type RpcResult<T> =
  | { ok: true; value: T }
  | { ok: false; error: { status: number; code: string; message: string; details?: RpcDetails } };

/** Inside a Durable Object: run an RPC body and return its value or its AppError as data; anything else is rethrown. */
export async function rpcResult<T>(fn: () => T | Promise<T>): Promise<RpcResult<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    if (err instanceof AppError) {
      return {
        ok: false,
        error: { status: err.status, code: err.code, message: err.message, details: err.details as RpcDetails | undefined },
      };
    }
    throw err;
  }
}

/** On the caller's side: the value, or the AppError the object raised. */
export function unwrap<R extends RpcResult<unknown>>(result: R): Extract<R, { ok: true }>["value"] {
  if (!result.ok) {
    const { status, code, message, details } = result.error;
    throw new AppError(status as 400, code, message, details);
  }
  return result.value as Extract<R, { ok: true }>["value"];
}
