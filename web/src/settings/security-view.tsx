import { useCallback, useEffect, useState } from "preact/hooks";
import { client, errorText, type Schemas } from "../lib/client";
import { ago } from "../lib/format";
import { useSession } from "../lib/session";
import { SaveStatus } from "../lib/ui";
import { TwoFactor } from "./two-factor";

/** Where I am signed in (end one session, or all others) and my devices (trust, block, unblock); two-factor authentication. */
export function SecurityView() {
  const { realtime } = useSession();
  const [sessions, setSessions] = useState<Schemas["Session"][]>([]);
  const [devices, setDevices] = useState<Schemas["Device"][]>([]);
  const [status, setStatus] = useState({ text: "", error: false });

  const load = useCallback(async () => {
    try {
      const [s, d] = await Promise.all([client.api.get("/api/v1/auth/sessions"), client.api.get("/api/v1/auth/devices")]);
      setSessions(s.items);
      setDevices(d.items);
    } catch (err) {
      setStatus({ text: errorText(err), error: true });
    }
  }, []);
  useEffect(() => {
    void load();
    // A sign-in elsewhere or an ended session shows up here at once.
    const offs = [realtime.on("security.event", () => void load()), realtime.on("session.ended", () => void load())];
    return () => {
      for (const off of offs) off();
    };
  }, [load, realtime]);

  const act = (action: () => Promise<unknown>, done: string) => async () => {
    try {
      await action();
      setStatus({ text: done, error: false });
      await load();
    } catch (err) {
      setStatus({ text: errorText(err), error: true });
    }
  };

  return (
    <div class="stack">
      <section class="card" aria-labelledby="sessions-title">
        <div class="row spread">
          <h3 id="sessions-title">Sessions</h3>
          <button type="button" onClick={act(() => client.api.post("/api/v1/auth/sessions/revoke-all"), "Other sessions ended.")}>
            End all other sessions
          </button>
        </div>
        <ul class="rows" data-testid="sessions">
          {sessions.map((s) => (
            <li key={s.id} class="row spread">
              <span>
                <strong>{s.deviceName ?? "Unknown device"}</strong>
                {s.current && <span class="badge-inline"> this device</span>}
                <br />
                <span class="muted small">
                  {[s.ip, s.country].filter(Boolean).join(" · ") || "—"} · active {ago(s.lastUsedAt)}
                </span>
              </span>
              {!s.current && (
                <button
                  type="button"
                  onClick={act(() => client.api.delete("/api/v1/auth/sessions/{id}", { path: { id: s.id } }), "Session ended.")}
                >
                  End session
                </button>
              )}
            </li>
          ))}
        </ul>
      </section>
      <section class="card" aria-labelledby="devices-title">
        <h3 id="devices-title">Devices</h3>
        <ul class="rows" data-testid="devices">
          {devices.map((d) => (
            <li key={d.id} class="row spread">
              <span>
                <strong>{d.name ?? "Unknown device"}</strong> <span class="muted small">{d.platform ?? ""}</span>
                <br />
                <span class="muted small">
                  {d.trusted ? "Trusted · " : ""}
                  {d.blocked ? "Blocked · " : ""}last seen {ago(d.lastSeenAt)}
                </span>
              </span>
              <span class="row">
                {!d.trusted && !d.blocked && (
                  <button
                    type="button"
                    onClick={act(() => client.api.post("/api/v1/auth/devices/{id}/trust", { path: { id: d.id } }), "Device trusted.")}
                  >
                    Trust
                  </button>
                )}
                {d.blocked ? (
                  <button
                    type="button"
                    onClick={act(() => client.api.post("/api/v1/auth/devices/{id}/unblock", { path: { id: d.id } }), "Device unblocked.")}
                  >
                    Unblock
                  </button>
                ) : (
                  <button
                    type="button"
                    onClick={act(
                      () => client.api.post("/api/v1/auth/devices/{id}/block", { path: { id: d.id } }),
                      "Device blocked; its sessions ended.",
                    )}
                  >
                    Block
                  </button>
                )}
              </span>
            </li>
          ))}
        </ul>
      </section>
      <SaveStatus {...status} />
      <TwoFactor />
    </div>
  );
}
