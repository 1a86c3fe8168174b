import type { Bindings } from "../env";
import { isDevelopment } from "../lib/config";
import { AppError } from "../lib/errors";
import { captureInOutbox } from "./outbox";

export type Channel = "email" | "sms";

/** One outgoing message. `kind` names the template (e.g. `otp.login`) for logs and the dev outbox. */
export interface OutgoingMessage {
  channel: Channel;
  to: string;
  kind: string;
  subject: string;
  text: string;
}

export interface Notifier {
  send(message: OutgoingMessage): Promise<void>;
}

type Fetch = typeof fetch;

/** Email through Resend's HTTP API (`POST /emails`, bearer API key). */
export function resendEmail(apiKey: string, from: string, doFetch: Fetch = fetch): Notifier {
  return {
    async send(m) {
      const res = await doFetch("https://api.resend.com/emails", {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ from, to: [m.to], subject: m.subject, text: m.text }),
      });
      if (!res.ok) throw new Error(`email provider answered ${res.status}`);
    },
  };
}

/** SMS through Twilio's Messages API (form-encoded, basic auth with the account SID and token). */
export function twilioSms(accountSid: string, authToken: string, from: string, doFetch: Fetch = fetch): Notifier {
  return {
    async send(m) {
      const url = `https://api.twilio.com/2010-04-01/Accounts/${encodeURIComponent(accountSid)}/Messages.json`;
      const sender: Record<string, string> = from.startsWith("MG") ? { MessagingServiceSid: from } : { From: from };
      const res = await doFetch(url, {
        method: "POST",
        headers: {
          authorization: `Basic ${btoa(`${accountSid}:${authToken}`)}`,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams({ To: m.to, Body: m.text, ...sender }).toString(),
      });
      if (!res.ok) throw new Error(`SMS provider answered ${res.status}`);
    },
  };
}

/** The development provider: nothing leaves the machine; every message lands in the dev outbox. */
export function logProvider(db: D1Database): Notifier {
  return { send: (m) => captureInOutbox(db, m) };
}

function required(env: Bindings, name: keyof Bindings): string {
  const value = env[name];
  if (typeof value !== "string" || !value) {
    throw new AppError(503, "server_misconfigured", `Notifier is not configured: ${String(name)} is missing`);
  }
  return value;
}

/**
 * The provider the configuration selects for one channel: EMAIL_PROVIDER `resend` | `log`,
 * SMS_PROVIDER `twilio` | `log`. `log` is the default in development and refused elsewhere
 * (messages would vanish). Anything unusable throws `503 server_misconfigured`, so callers can
 * check a channel before doing work that depends on it.
 */
export function providerFor(env: Bindings, channel: Channel, doFetch: Fetch = fetch): Notifier {
  const provider = (channel === "email" ? env.EMAIL_PROVIDER : env.SMS_PROVIDER) ?? (isDevelopment(env) ? "log" : "");
  if (provider === "log") {
    if (!isDevelopment(env)) throw new AppError(503, "server_misconfigured", `The log ${channel} provider is for development only`);
    return logProvider(env.DB);
  }
  if (channel === "email" && provider === "resend") {
    return resendEmail(required(env, "EMAIL_API_KEY"), required(env, "EMAIL_FROM"), doFetch);
  }
  if (channel === "sms" && provider === "twilio") {
    return twilioSms(required(env, "TWILIO_ACCOUNT_SID"), required(env, "TWILIO_AUTH_TOKEN"), required(env, "SMS_FROM"), doFetch);
  }
  throw new AppError(503, "server_misconfigured", `No ${channel} provider is configured`);
}

/** The notifier the configuration selects: each message goes to its channel's provider (see providerFor). */
export function notifierFor(env: Bindings, doFetch: Fetch = fetch): Notifier {
  return {
    async send(m) {
      await providerFor(env, m.channel, doFetch).send(m);
      console.log(JSON.stringify({ level: "info", msg: "notification sent", channel: m.channel, kind: m.kind }));
    },
  };
}
