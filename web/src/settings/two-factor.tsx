import { useState } from "preact/hooks";
import { client, errorText, type Schemas } from "../lib/client";
import { useSession } from "../lib/session";
import { SaveStatus } from "../lib/ui";

/** Turn two-factor authentication on (QR code or secret, a code to confirm, then the recovery codes) or off. */
export function TwoFactor() {
  const { me, setMe } = useSession();
  const [setup, setSetup] = useState<Schemas["TwoFactorSetup"] | null>(null);
  const [recoveryCodes, setRecoveryCodes] = useState<string[] | null>(null);
  const [status, setStatus] = useState({ text: "", error: false });
  const fail = (err: unknown) => setStatus({ text: errorText(err), error: true });

  const start = async () => {
    try {
      setSetup(await client.api.post("/api/v1/auth/2fa/setup"));
      setStatus({ text: "", error: false });
    } catch (err) {
      fail(err);
    }
  };
  const enable = async (event: Event) => {
    event.preventDefault();
    const code = String(new FormData(event.currentTarget as HTMLFormElement).get("code")).replace(/\s+/g, "");
    try {
      const { recoveryCodes: codes } = await client.api.post("/api/v1/auth/2fa/enable", { body: { code } });
      setRecoveryCodes(codes);
      setSetup(null);
      setMe({ ...me, twoFactorEnabled: true });
      setStatus({ text: "Two-factor authentication is on.", error: false });
    } catch (err) {
      fail(err);
    }
  };
  const disable = async (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    try {
      await client.api.post("/api/v1/auth/2fa/disable", {
        body: { password: String(data.get("password")), code: String(data.get("code")).trim() },
      });
      setMe({ ...me, twoFactorEnabled: false });
      setRecoveryCodes(null);
      setStatus({ text: "Two-factor authentication is off.", error: false });
    } catch (err) {
      fail(err);
    }
  };

  return (
    <section class="card stack" aria-labelledby="twofa-title">
      <h3 id="twofa-title">Two-factor authentication</h3>
      {recoveryCodes && (
        <div>
          <p>Keep these recovery codes somewhere safe; each works once if you lose your authenticator:</p>
          <ul class="codes">
            {recoveryCodes.map((c) => (
              <li key={c}>
                <code>{c}</code>
              </li>
            ))}
          </ul>
        </div>
      )}
      {me.twoFactorEnabled ? (
        <form class="stack" onSubmit={disable}>
          <p>On: signing in asks for a code from your authenticator app.</p>
          <label>
            Password
            <input name="password" type="password" autocomplete="current-password" required />
          </label>
          <label>
            Current code
            <input name="code" inputMode="numeric" autocomplete="one-time-code" required />
          </label>
          <button type="submit">Turn off</button>
        </form>
      ) : setup ? (
        <form class="stack" onSubmit={enable}>
          <p>Scan the code with an authenticator app, or enter the secret by hand.</p>
          <img
            class="qr"
            src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(setup.qrSvg)}`}
            alt="QR code of the two-factor secret"
          />
          <p>
            Secret: <code data-testid="totp-secret">{setup.secret}</code>
          </p>
          <label>
            6-digit code
            <input name="code" inputMode="numeric" autocomplete="one-time-code" required pattern="[0-9 ]{6,7}" />
          </label>
          <button type="submit" class="primary">
            Turn on
          </button>
        </form>
      ) : (
        <div>
          <p>Off. Add a second step to signing in.</p>
          <button type="button" onClick={start}>
            Set up two-factor authentication
          </button>
        </div>
      )}
      <SaveStatus {...status} />
    </section>
  );
}
