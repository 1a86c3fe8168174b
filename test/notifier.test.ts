import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Bindings } from "../src/env";
import { AppError } from "../src/lib/errors";
import { notifierFor, type OutgoingMessage, providerFor, resendEmail, twilioSms } from "../src/notify/notifier";
import { readOutbox } from "../src/notify/outbox";
import { uniqueName } from "./helpers";

const EMAIL: OutgoingMessage = {
  channel: "email",
  to: "alice@example.com",
  kind: "otp.login",
  subject: "Your sign-in code",
  text: "Your sign-in code is 123456. It expires in 5 minutes.",
};
const SMS: OutgoingMessage = { ...EMAIL, channel: "sms", to: "+14155550100" };

/** An outbound fetch that records each request it is given and answers `status`. */
function fakeFetch(status = 200) {
  const requests: Request[] = [];
  const doFetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    requests.push(new Request(input, init));
    return new Response(status < 300 ? '{"id":"msg_1"}' : '{"message":"nope"}', {
      status,
      headers: { "content-type": "application/json" },
    });
  }) as typeof fetch;
  return { doFetch, requests };
}

async function expectMisconfigured(promise: Promise<unknown>, message: RegExp) {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect(err).toMatchObject({ status: 503, code: "server_misconfigured" });
  expect((err as Error).message).toMatch(message);
}

const envWith = (overrides: Partial<Bindings>): Bindings => ({ ...env, ...overrides }) as Bindings;

describe("resendEmail", () => {
  it("POSTs JSON to Resend with the bearer API key", async () => {
    const { doFetch, requests } = fakeFetch();
    await resendEmail("re_secret_key", "Edge <no-reply@example.com>", doFetch).send(EMAIL);
    expect(requests).toHaveLength(1);
    const req = requests[0]!;
    expect(req.method).toBe("POST");
    expect(req.url).toBe("https://api.resend.com/emails");
    expect(req.headers.get("authorization")).toBe("Bearer re_secret_key");
    expect(req.headers.get("content-type")).toBe("application/json");
    expect(await req.json()).toEqual({
      from: "Edge <no-reply@example.com>",
      to: ["alice@example.com"],
      subject: "Your sign-in code",
      text: EMAIL.text,
    });
  });

  it("throws when Resend answers non-2xx", async () => {
    for (const status of [401, 422, 500]) {
      const { doFetch } = fakeFetch(status);
      await expect(resendEmail("k", "f@example.com", doFetch).send(EMAIL)).rejects.toThrow(`email provider answered ${status}`);
    }
  });
});

describe("twilioSms", () => {
  it("POSTs a form to the account's Messages endpoint with basic auth and From", async () => {
    const { doFetch, requests } = fakeFetch(201);
    await twilioSms("AC123", "tw-token", "+15005550006", doFetch).send(SMS);
    const req = requests[0]!;
    expect(req.method).toBe("POST");
    expect(req.url).toBe("https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json");
    expect(req.headers.get("authorization")).toBe(`Basic ${btoa("AC123:tw-token")}`);
    expect(req.headers.get("content-type")).toBe("application/x-www-form-urlencoded");
    const form = new URLSearchParams(await req.text());
    expect(Object.fromEntries(form)).toEqual({ To: "+14155550100", From: "+15005550006", Body: SMS.text });
  });

  it("uses MessagingServiceSid when SMS_FROM is a messaging service (MG…)", async () => {
    const { doFetch, requests } = fakeFetch(201);
    await twilioSms("AC123", "tw-token", "MG0123456789abcdef", doFetch).send(SMS);
    const form = new URLSearchParams(await requests[0]!.text());
    expect(form.get("MessagingServiceSid")).toBe("MG0123456789abcdef");
    expect(form.has("From")).toBe(false);
    expect(form.get("To")).toBe("+14155550100");
  });

  it("throws when Twilio answers non-2xx", async () => {
    const { doFetch } = fakeFetch(400);
    await expect(twilioSms("AC1", "t", "+15005550006", doFetch).send(SMS)).rejects.toThrow("SMS provider answered 400");
  });
});

describe("notifierFor / providerFor", () => {
  const PROVIDERS: Partial<Bindings> = {
    ENVIRONMENT: "production",
    EMAIL_PROVIDER: "resend",
    EMAIL_API_KEY: "re_key",
    EMAIL_FROM: "no-reply@example.com",
    SMS_PROVIDER: "twilio",
    TWILIO_ACCOUNT_SID: "AC9",
    TWILIO_AUTH_TOKEN: "tok",
    SMS_FROM: "+15005550006",
  };

  it("routes each channel to the configured HTTP provider", async () => {
    const { doFetch, requests } = fakeFetch();
    const notifier = notifierFor(envWith(PROVIDERS), doFetch);
    await notifier.send(EMAIL);
    await notifier.send(SMS);
    expect(requests.map((r) => r.url)).toEqual([
      "https://api.resend.com/emails",
      "https://api.twilio.com/2010-04-01/Accounts/AC9/Messages.json",
    ]);
    expect(requests[0]!.headers.get("authorization")).toBe("Bearer re_key");
  });

  it("passes provider failures on", async () => {
    const { doFetch } = fakeFetch(503);
    await expect(notifierFor(envWith(PROVIDERS), doFetch).send(EMAIL)).rejects.toThrow("email provider answered 503");
  });

  it("captures in the dev outbox with `log` in development (the default there)", async () => {
    const { doFetch, requests } = fakeFetch();
    for (const overrides of [{ EMAIL_PROVIDER: "log" }, { EMAIL_PROVIDER: undefined }]) {
      const to = `${uniqueName("n")}@example.com`;
      await notifierFor(envWith({ ENVIRONMENT: "development", ...overrides }), doFetch).send({ ...EMAIL, to });
      const items = await readOutbox(env.DB, to, 10);
      expect(items).toEqual([
        {
          id: expect.any(String),
          channel: "email",
          to,
          kind: "otp.login",
          subject: EMAIL.subject,
          text: EMAIL.text,
          createdAt: expect.any(String),
        },
      ]);
    }
    expect(requests).toHaveLength(0);
  });

  it("refuses `log` outside development with 503 server_misconfigured", async () => {
    const { doFetch, requests } = fakeFetch();
    const prod = envWith({ ...PROVIDERS, EMAIL_PROVIDER: "log", SMS_PROVIDER: "log" });
    const to = `${uniqueName("n")}@example.com`;
    await expectMisconfigured(notifierFor(prod, doFetch).send({ ...EMAIL, to }), /development only/);
    await expectMisconfigured(notifierFor(prod, doFetch).send(SMS), /development only/);
    expect(await readOutbox(env.DB, to, 10)).toEqual([]);
    expect(requests).toHaveLength(0);
  });

  it("refuses a missing, unknown or incomplete provider outside development", async () => {
    const { doFetch, requests } = fakeFetch();
    const cases: [Partial<Bindings>, OutgoingMessage, RegExp][] = [
      [{ EMAIL_PROVIDER: undefined }, EMAIL, /No email provider/],
      [{ EMAIL_PROVIDER: "smtp" }, EMAIL, /No email provider/],
      [{ EMAIL_PROVIDER: "twilio" }, EMAIL, /No email provider/],
      [{ SMS_PROVIDER: "resend" }, SMS, /No sms provider/],
      [{ EMAIL_API_KEY: undefined }, EMAIL, /EMAIL_API_KEY is missing/],
      [{ EMAIL_FROM: "" }, EMAIL, /EMAIL_FROM is missing/],
      [{ TWILIO_AUTH_TOKEN: undefined }, SMS, /TWILIO_AUTH_TOKEN is missing/],
      [{ SMS_FROM: undefined }, SMS, /SMS_FROM is missing/],
    ];
    for (const [overrides, message, reason] of cases) {
      await expectMisconfigured(notifierFor(envWith({ ...PROVIDERS, ...overrides }), doFetch).send(message), reason);
    }
    expect(requests).toHaveLength(0);
  });

  it("providerFor checks a channel without sending anything", async () => {
    const { doFetch, requests } = fakeFetch();
    expect(() => providerFor(envWith(PROVIDERS), "email", doFetch)).not.toThrow();
    expect(() => providerFor(envWith({ ...PROVIDERS, SMS_PROVIDER: undefined }), "sms", doFetch)).toThrow(/No sms provider/);
    expect(requests).toHaveLength(0);
  });
});
