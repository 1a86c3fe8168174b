import { useEffect, useState } from "preact/hooks";
import { client, errorText, type Schemas } from "../lib/client";
import { SaveStatus } from "../lib/ui";

type Privacy = Schemas["PrivacySettings"];
type Audience = Schemas["Audience"];
const FIELDS: { key: Exclude<keyof Privacy, "readReceipts">; label: string }[] = [
  { key: "lastSeen", label: "Who sees my last seen and online status" },
  { key: "profilePhoto", label: "Who sees my profile photo" },
  { key: "phone", label: "Who sees my phone number" },
  { key: "email", label: "Who sees my email" },
  { key: "groupInvites", label: "Who can add me to groups" },
];

/** Privacy settings (GET/PUT /users/me/privacy). */
export function PrivacyForm() {
  const [privacy, setPrivacy] = useState<Privacy | null>(null);
  const [status, setStatus] = useState({ text: "", error: false });
  useEffect(() => {
    client.api.get("/api/v1/users/me/privacy").then(
      (r) => setPrivacy(r.privacy),
      (err) => setStatus({ text: errorText(err), error: true }),
    );
  }, []);
  if (!privacy) return <p class="muted">{status.text || "Loading…"}</p>;

  const save = async (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    const body = { ...privacy, readReceipts: data.get("readReceipts") === "on" };
    for (const { key } of FIELDS) body[key] = String(data.get(key)) as Audience;
    try {
      setPrivacy((await client.api.put("/api/v1/users/me/privacy", { body })).privacy);
      setStatus({ text: "Privacy settings saved.", error: false });
    } catch (err) {
      setStatus({ text: errorText(err), error: true });
    }
  };
  return (
    <form class="card stack" onSubmit={save} aria-label="Privacy">
      {FIELDS.map(({ key, label }) => (
        <label key={key}>
          {label}
          <select name={key} defaultValue={privacy[key]}>
            <option value="everyone">Everyone</option>
            <option value="contacts">My contacts</option>
            <option value="nobody">Nobody</option>
          </select>
        </label>
      ))}
      <label class="checkbox">
        <input type="checkbox" name="readReceipts" defaultChecked={privacy.readReceipts} />
        Send read receipts
      </label>
      <button type="submit" class="primary">
        Save privacy settings
      </button>
      <SaveStatus {...status} />
    </form>
  );
}
