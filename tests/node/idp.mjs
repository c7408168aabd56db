// A real, certified OpenID provider (oidc-provider) for the tests: `node idp.mjs CONFIG_JSON`.
// CONFIG_JSON: {"port": N, "clients": [...client metadata...], "accounts": {"alice": {claims...}},
// "keyFile": PATH}. The signing key is new at every start (a restart rotates it); keyFile receives it so that
// the tests can make the failure-case tokens (expired, wrong audience or issuer) with the issuer's own key.
// Resource indicators give JWT access tokens for whichever resource a client names, with the scopes
// numbers:read, numbers:write and numbers:purchase; the login page is oidc-provider's own (devInteractions:
// any known account name, any password). Prints "ready ISSUER" once it listens on 127.0.0.1.
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import Provider from "oidc-provider";

const config = JSON.parse(process.argv[2] ?? "{}");
const port = config.port;
const issuer = `http://127.0.0.1:${port}`;
const accounts = config.accounts ?? {};
const RESOURCE_SCOPES = "numbers:read numbers:write numbers:purchase";

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: "jwk" }), kid: randomUUID(), alg: "RS256", use: "sig" };

if (config.keyFile) writeFileSync(config.keyFile, JSON.stringify(jwk), { mode: 0o600 });

const provider = new Provider(issuer, {
  clients: config.clients ?? [],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomUUID()] },
  scopes: ["openid", "offline_access", "email", "profile", "groups", ...RESOURCE_SCOPES.split(" ")],
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"], groups: ["groups"] },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    registration: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, client, oneOf) => oneOf,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resourceIndicator) => ({
        scope: RESOURCE_SCOPES,
        audience: resourceIndicator,
        accessTokenTTL: 600,
        accessTokenFormat: "jwt",
        jwt: { sign: { alg: "RS256" } },
      }),
    },
  },
  // scopes of the resource are granted for any resource (the consent page asks once)
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
  },
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub, ...(accounts[sub] ?? {}) }),
  }),
  ttl: {
    AccessToken: 600, AuthorizationCode: 60, ClientCredentials: 600, IdToken: 600, Interaction: 600,
    Session: 600, Grant: 600, RefreshToken: 600,
  },
});
provider.on("server_error", (ctx, err) => console.error("server_error", err));
provider.listen(port, "127.0.0.1", () => console.log(`ready ${issuer}`));
