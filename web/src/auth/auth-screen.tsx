import { useEffect, useRef, useState } from "preact/hooks";
import type { SecondFactorChallenge } from "../../../client";
import { client, deviceFields, errorText, type Schemas } from "../lib/client";
import { FormError } from "../lib/ui";

type Mode = "signIn" | "signUp";

/** Sign in (with the 2FA step when the account has it) or sign up; calls `onSignedIn` with the account. */
export function AuthScreen({ onSignedIn }: { onSignedIn(user: Schemas["User"]): void }) {
  const [mode, setMode] = useState<Mode>("signIn");
  const [challenge, setChallenge] = useState<SecondFactorChallenge | null>(null);
  return (
    <main class="auth" aria-labelledby="auth-title">
      <h1 id="auth-title">Edge Messenger</h1>
      {challenge ? (
        <SecondFactorForm challenge={challenge} onSignedIn={onSignedIn} onCancel={() => setChallenge(null)} />
      ) : (
        <>
          <div class="tabs">
            {(["signIn", "signUp"] as const).map((m) => (
              <button key={m} type="button" aria-pressed={mode === m} class={mode === m ? "tab active" : "tab"} onClick={() => setMode(m)}>
                {m === "signIn" ? "Sign in" : "Sign up"}
              </button>
            ))}
          </div>
          {mode === "signIn" ? <SignInForm onSignedIn={onSignedIn} onChallenge={setChallenge} /> : <SignUpForm onSignedIn={onSignedIn} />}
        </>
      )}
    </main>
  );
}

function SignInForm({ onSignedIn, onChallenge }: { onSignedIn(user: Schemas["User"]): void; onChallenge(c: SecondFactorChallenge): void }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    setBusy(true);
    setError("");
    try {
      const result = await client.auth.signIn({
        identifier: String(data.get("identifier")),
        password: String(data.get("password")),
        ...deviceFields(),
      });
      if (result.status === "signedIn") onSignedIn(result.signedIn.user);
      else onChallenge(result.challenge);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card stack" onSubmit={submit} aria-label="Sign in">
      <label>
        Username, email or phone
        <input name="identifier" autocomplete="username" required />
      </label>
      <label>
        Password
        <input name="password" type="password" autocomplete="current-password" required />
      </label>
      <FormError text={error} />
      <button type="submit" class="primary" disabled={busy}>
        {busy ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
}

function SignUpForm({ onSignedIn }: { onSignedIn(user: Schemas["User"]): void }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    setBusy(true);
    setError("");
    try {
      const displayName = String(data.get("displayName") ?? "").trim();
      const signedIn = await client.auth.register({
        username: String(data.get("username")),
        password: String(data.get("password")),
        ...(displayName ? { displayName } : {}),
        ...deviceFields(),
      });
      onSignedIn(signedIn.user);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card stack" onSubmit={submit} aria-label="Sign up">
      <label>
        Username
        <input name="username" autocomplete="username" required pattern="[a-zA-Z0-9_]{3,32}" aria-describedby="username-hint" />
      </label>
      <small id="username-hint">3–32 letters, digits or underscores.</small>
      <label>
        Display name (optional)
        <input name="displayName" autocomplete="name" maxLength={64} />
      </label>
      <label>
        Password
        <input name="password" type="password" autocomplete="new-password" required minLength={8} aria-describedby="password-hint" />
      </label>
      <small id="password-hint">At least 8 characters; a few unrelated words work well.</small>
      <FormError text={error} />
      <button type="submit" class="primary" disabled={busy}>
        {busy ? "Creating account…" : "Create account"}
      </button>
    </form>
  );
}

function SecondFactorForm({
  challenge,
  onSignedIn,
  onCancel,
}: {
  challenge: SecondFactorChallenge;
  onSignedIn(user: Schemas["User"]): void;
  onCancel(): void;
}) {
  const [recovery, setRecovery] = useState(false);
  const [error, setError] = useState("");
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), [recovery]);
  const submit = async (event: Event) => {
    event.preventDefault();
    const value = String(new FormData(event.currentTarget as HTMLFormElement).get("factor")).trim();
    setError("");
    try {
      const signedIn = await challenge.verify(recovery ? { recoveryCode: value } : { code: value.replace(/\s+/g, "") });
      onSignedIn(signedIn.user);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <form class="card stack" onSubmit={submit} aria-label="Two-factor authentication">
      <h2>Two-factor authentication</h2>
      <label>
        {recovery ? "Recovery code" : "6-digit code from your authenticator app"}
        {/* A new field per kind: a pattern left behind would refuse recovery codes. */}
        <input
          key={recovery ? "recovery" : "code"}
          ref={input}
          name="factor"
          required
          autocomplete="one-time-code"
          inputMode={recovery ? "text" : "numeric"}
          {...(recovery ? {} : { pattern: "[0-9 ]{6,7}" })}
        />
      </label>
      <FormError text={error} />
      <button type="submit" class="primary">
        Verify
      </button>
      <button type="button" class="link" onClick={() => setRecovery(!recovery)}>
        {recovery ? "Use an authenticator code" : "Use a recovery code"}
      </button>
      <button type="button" class="link" onClick={onCancel}>
        Back
      </button>
    </form>
  );
}
