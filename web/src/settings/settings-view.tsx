import { useEffect, useRef } from "preact/hooks";
import { link } from "../lib/router";
import { useSession } from "../lib/session";
import { PrivacyForm } from "./privacy-form";
import { ProfileForm } from "./profile-form";
import { SecurityView } from "./security-view";

type Section = "profile" | "privacy" | "security";
const SECTIONS: { id: Section; label: string }[] = [
  { id: "profile", label: "Profile" },
  { id: "privacy", label: "Privacy" },
  { id: "security", label: "Sessions & devices" },
];

/** Settings: profile, privacy, and security (sessions, devices, two-factor authentication); sign out. */
export function SettingsView({ section }: { section: Section | null }) {
  const { me, signOut } = useSession();
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [section]);
  const current = section ?? "profile";
  return (
    <section class="page" aria-labelledby="settings-title">
      <header class="page-header">
        <a href="/" onClick={link} class="back" aria-label="Back to chats">
          ←
        </a>
        <h2 id="settings-title" ref={heading} tabIndex={-1}>
          Settings
        </h2>
        <span class="muted small grow">@{me.username}</span>
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <nav aria-label="Settings sections">
        <ul class="tabs">
          {SECTIONS.map((s) => (
            <li key={s.id}>
              <a
                href={`/settings/${s.id}`}
                onClick={link}
                class={s.id === current ? "tab active" : "tab"}
                aria-current={s.id === current ? "page" : undefined}
              >
                {s.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {current === "profile" && <ProfileForm />}
      {current === "privacy" && <PrivacyForm />}
      {current === "security" && <SecurityView />}
    </section>
  );
}
