import { useEffect, useState } from "preact/hooks";
import { uploadFile } from "../chat/upload";
import { Avatar } from "../chats/avatar";
import { client, errorText, type Schemas } from "../lib/client";
import { useSession } from "../lib/session";
import { SaveStatus } from "../lib/ui";

/** My profile: display name, bio and avatar (uploaded with tus, purpose `avatar`). */
export function ProfileForm() {
  const { setMe } = useSession();
  const [profile, setProfile] = useState<Schemas["OwnProfile"] | null>(null);
  const [status, setStatus] = useState({ text: "", error: false });
  useEffect(() => {
    client.api.get("/api/v1/users/me").then(
      (r) => setProfile(r.user),
      (err) => setStatus({ text: errorText(err), error: true }),
    );
  }, []);
  if (!profile) return <p class="muted">{status.text || "Loading…"}</p>;

  const save = async (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    try {
      const { user: updated } = await client.api.patch("/api/v1/users/me", {
        body: { displayName: String(data.get("displayName")).trim(), bio: String(data.get("bio")).trim() || null },
      });
      setProfile(updated);
      setMe(updated);
      setStatus({ text: "Profile saved.", error: false });
    } catch (err) {
      setStatus({ text: errorText(err), error: true });
    }
  };
  const changeAvatar = async (event: Event) => {
    const file = (event.currentTarget as HTMLInputElement).files?.[0];
    if (!file) return;
    try {
      setStatus({ text: "Uploading…", error: false });
      const mediaId = await uploadFile(file, { purpose: "avatar" }, () => {});
      setProfile((await client.api.patch("/api/v1/users/me", { body: { avatarMediaId: mediaId } })).user);
      setStatus({ text: "Avatar changed.", error: false });
    } catch (err) {
      setStatus({ text: errorText(err), error: true });
    }
  };
  return (
    <form class="card stack" onSubmit={save} aria-label="Profile">
      <div class="row">
        <Avatar name={profile.displayName} mediaId={profile.avatarMediaId} size={64} />
        <label class="button">
          Change avatar
          <input type="file" accept="image/png,image/jpeg,image/gif,image/webp" class="visually-hidden" onChange={changeAvatar} />
        </label>
      </div>
      <label>
        Display name
        <input name="displayName" defaultValue={profile.displayName} required maxLength={64} />
      </label>
      <label>
        Bio
        <textarea name="bio" rows={3} maxLength={500} defaultValue={profile.bio ?? ""} />
      </label>
      <p class="muted small">
        Username @{profile.username}
        {profile.email ? ` · ${profile.email}` : ""}
      </p>
      <button type="submit" class="primary">
        Save profile
      </button>
      <SaveStatus {...status} />
    </form>
  );
}
