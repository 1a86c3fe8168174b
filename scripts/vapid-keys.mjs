// Prints a new VAPID key pair for Web Push (RFC 8292) in the form wrangler.toml and the secret take:
// the base64url raw P-256 public key (65 bytes, browsers subscribe with it) and private key (32 bytes).
import { webcrypto } from "node:crypto";

const pair = await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
const publicKey = Buffer.from(await webcrypto.subtle.exportKey("raw", pair.publicKey)).toString("base64url");
const { d } = await webcrypto.subtle.exportKey("jwk", pair.privateKey);
console.log(`VAPID_PUBLIC_KEY = "${publicKey}"   # wrangler.toml [env.production.vars]`);
console.log(`VAPID_PRIVATE_KEY=${d}   # wrangler secret put VAPID_PRIVATE_KEY --env production`);
