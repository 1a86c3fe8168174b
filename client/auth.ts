import { TypedEmitter } from "./emitter";
import { ApiError, SignedOutError } from "./errors";
import type { components } from "./generated/api";
import type { AccessTokenProvider, RestClient } from "./rest";
import type { StoredTokens, TokenStorage } from "./token-storage";

type Schemas = components["schemas"];
/** A successful sign-in: `{user, tokens, session, newDevice}`. */
export type SignedIn = Schemas["AuthResult"];
/** What a second factor is: a TOTP code or one of the recovery codes. */
export type SecondFactor = { code: string } | { recoveryCode: string };

/** The password was right and the account has 2FA on: `verify` with a second factor finishes the sign-in. */
export interface SecondFactorChallenge {
  mfaToken: string;
  /** When the challenge stops working (ms since the epoch; 5 minutes, single use). */
  expiresAt: number;
  verify(factor: SecondFactor): Promise<SignedIn>;
}

/** A first factor's outcome: signed in, or a second factor is needed (POST /auth/2fa/verify). */
export type SignInResult =
  | { status: "signedIn"; signedIn: SignedIn }
  | { status: "secondFactorRequired"; challenge: SecondFactorChallenge };

export interface AuthEvents {
  signedIn: { user: Schemas["User"] };
  tokensRefreshed: { accessExpiresAt: number };
  /** The session is over: signed out here, or the server ended it (`reason` is its error code, e.g. `refresh_token_reused`). */
  signedOut: { reason: string };
}

/** Runs `task` while holding the lock `name` (tabs of one origin wait for each other); the Web Locks API by default. */
export type LockRunner = <T>(name: string, task: () => Promise<T>) => Promise<T>;

interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

/** `navigator.locks` where the platform has it (browsers), else no lock at all (one process, one refresher). */
export const webLockRunner: LockRunner = (name, task) => {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  return locks ? locks.request(name, task) : task();
};

export interface AuthOptions {
  /** Calls the API with no token (sign-in, refresh); auth adds its own where needed. */
  rest: RestClient;
  storage: TokenStorage;
  /** Refresh when the access token has less than this left (default 60 s). */
  refreshMarginMs?: number;
  lock?: LockRunner;
  now?: () => number;
}

const REFRESH_LOCK = "edge-messenger.refresh";

/**
 * The signed-in session: sign-up, sign-in (with the 2FA step), the token storage, refresh and
 * sign-out. The access token is refreshed before it expires, by ONE refresh shared by every caller
 * that needs it meanwhile (and, across tabs, by the Web Locks API): the server ends the whole
 * session when a rotated refresh token is presented again (reuse detection), so two refreshes
 * racing with one token would sign the user out.
 */
export class AuthSession extends TypedEmitter<AuthEvents> implements AccessTokenProvider {
  private readonly rest: RestClient;
  private readonly storage: TokenStorage;
  private readonly marginMs: number;
  private readonly lock: LockRunner;
  private readonly now: () => number;
  private refreshing: Promise<StoredTokens> | null = null;

  constructor(options: AuthOptions) {
    super();
    this.rest = options.rest;
    this.storage = options.storage;
    this.marginMs = options.refreshMarginMs ?? 60_000;
    this.lock = options.lock ?? webLockRunner;
    this.now = options.now ?? Date.now;
  }

  /** Create an account and sign in (POST /auth/register). */
  async register(body: Schemas["RegisterRequest"]): Promise<SignedIn> {
    return this.adopt(await this.rest.post("/api/v1/auth/register", { body, auth: false }));
  }

  /** A guest account, where the server allows them (POST /auth/guest). */
  async signUpAsGuest(body: Schemas["GuestSignupRequest"] = {}): Promise<SignedIn> {
    return this.adopt(await this.rest.post("/api/v1/auth/guest", { body, auth: false }));
  }

  /**
   * Sign in with a password. With 2FA on, the result is a challenge: call its `verify` with a code
   * (an explicit second call), or pass `secondFactor`, asked for the factor, to finish in this call.
   */
  async signIn(
    body: Schemas["LoginRequest"],
    { secondFactor }: { secondFactor?: (challenge: SecondFactorChallenge) => Promise<SecondFactor> } = {},
  ): Promise<SignInResult> {
    const result = await this.firstFactor(await this.rest.post("/api/v1/auth/login", { body, auth: false }));
    if (result.status === "signedIn" || !secondFactor) return result;
    return { status: "signedIn", signedIn: await result.challenge.verify(await secondFactor(result.challenge)) };
  }

  /** Sign in (or sign up, `purpose: "signup"`) with a one-time code sent by POST /auth/otp/send. */
  async signInWithCode(body: Schemas["OtpLoginVerifyRequest"] | Schemas["OtpSignupVerifyRequest"]): Promise<SignInResult> {
    const result = await this.rest.post("/api/v1/auth/otp/verify", { body, auth: false });
    // 204 is the answer to `purpose: "verify"` only, which this body cannot be.
    if (!result) throw new Error("POST /auth/otp/verify signed nobody in");
    return this.firstFactor(result);
  }

  /** Finish a sign-in that needs a second factor (POST /auth/2fa/verify). */
  async verifySecondFactor(mfaToken: string, factor: SecondFactor): Promise<SignedIn> {
    return this.adopt(await this.rest.post("/api/v1/auth/2fa/verify", { body: { mfaToken, ...factor }, auth: false }));
  }

  /** Use tokens obtained elsewhere (minted for this user by the app's backend, say). */
  async useTokens(tokens: Schemas["Tokens"]): Promise<void> {
    await this.storage.save(this.stored(tokens));
  }

  /** Whether tokens are stored (the session may still have ended on the server). */
  async isSignedIn(): Promise<boolean> {
    return (await this.storage.load()) !== null;
  }

  /**
   * A usable access token: the stored one while it has more than the margin left, else a fresh one
   * from the shared refresh. Null when signed out; SignedOutError when the refresh finds the session over.
   */
  async accessToken(): Promise<string | null> {
    const tokens = await this.storage.load();
    if (!tokens) return null;
    if (tokens.accessExpiresAt - this.now() > this.marginMs) return tokens.accessToken;
    return this.refresh();
  }

  /**
   * Refresh now (POST /auth/refresh), joining a refresh already in flight. Resolves to the new access
   * token; rejects with SignedOutError when the server refuses the refresh token (the session ended,
   * or the token was reused), after clearing the storage and emitting `signedOut`; other failures
   * (network, 5xx, 429) reject with their error and keep the session.
   */
  refresh(): Promise<string> {
    this.refreshing ??= this.runRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing.then((tokens) => tokens.accessToken);
  }

  /** AccessTokenProvider: the API refused `token`; the token to retry with, or null. */
  async rejected(token: string, error: ApiError): Promise<string | null> {
    if (error.code === "session_revoked") {
      await this.endLocally(error.code);
      return null;
    }
    if (error.code !== "token_expired" && error.code !== "unauthorized") return null;
    const stored = await this.storage.load();
    // Someone refreshed since this token was read: retry with theirs.
    if (stored && stored.accessToken !== token) return stored.accessToken;
    try {
      return await this.refresh();
    } catch (err) {
      if (err instanceof SignedOutError) return null;
      throw err;
    }
  }

  /** End the session on the server (POST /auth/logout) and forget the tokens here, even when the server cannot be reached. */
  async signOut(): Promise<void> {
    try {
      if (await this.isSignedIn()) await this.rest.post("/api/v1/auth/logout", { auth: false, headers: await this.bearer() });
    } catch {
      // already ended, or offline: the tokens go anyway, and the refresh token dies with its expiry
    } finally {
      await this.endLocally("signed_out");
    }
  }

  private async bearer(): Promise<Record<string, string>> {
    const token = await this.accessToken();
    return token ? { authorization: `Bearer ${token}` } : {};
  }

  private async runRefresh(): Promise<StoredTokens> {
    const before = await this.storage.load();
    if (!before) throw new SignedOutError("not_signed_in");
    return this.lock(REFRESH_LOCK, async () => {
      const current = await this.storage.load();
      if (!current) throw new SignedOutError("signed_out");
      // Another tab sharing the storage refreshed while this one waited for the lock: use its tokens.
      if (current.refreshToken !== before.refreshToken) return current;
      let tokens: Schemas["Tokens"];
      try {
        ({ tokens } = await this.rest.post("/api/v1/auth/refresh", { body: { refreshToken: current.refreshToken }, auth: false }));
      } catch (err) {
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
          await this.endLocally(err.code);
          throw new SignedOutError(err.code);
        }
        throw err;
      }
      const next = this.stored(tokens);
      await this.storage.save(next);
      this.emit("tokensRefreshed", { accessExpiresAt: next.accessExpiresAt });
      return next;
    });
  }

  private firstFactor(result: Schemas["LoginResult"] | Schemas["OtpVerifyResult"]): Promise<SignInResult> | SignInResult {
    if ("mfaRequired" in result) {
      const { mfaToken } = result;
      const challenge: SecondFactorChallenge = {
        mfaToken,
        expiresAt: this.now() + result.expiresIn * 1000,
        verify: (factor) => this.verifySecondFactor(mfaToken, factor),
      };
      return { status: "secondFactorRequired", challenge };
    }
    return this.adopt(result).then((signedIn) => ({ status: "signedIn" as const, signedIn }));
  }

  private async adopt(result: SignedIn): Promise<SignedIn> {
    await this.storage.save(this.stored(result.tokens));
    this.emit("signedIn", { user: result.user });
    return result;
  }

  private stored(tokens: Schemas["Tokens"]): StoredTokens {
    return { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, accessExpiresAt: this.now() + tokens.expiresIn * 1000 };
  }

  private async endLocally(reason: string): Promise<void> {
    const had = await this.storage.load();
    await this.storage.clear();
    if (had) this.emit("signedOut", { reason });
  }
}
