// How each Lambda handler is bundled: the esbuild options NodejsFunction passes (replicator-function.ts),
// kept free of CDK imports so the bundle smoke test (test/image/bundles.test.ts) builds exactly the same.

/** ESM bundles still meet CommonJS dependencies that call require(); this gives them one. */
export const REQUIRE_SHIM =
  "import { createRequire as __dbrCreateRequire } from 'node:module'; const require = __dbrCreateRequire(import.meta.url);";

/** Optional drivers that pg and its helpers probe for and never use here. */
export const NEVER_BUNDLED = ['pg-native', 'cloudflare:sockets'];

/** The Lambda runtime's Node major, as esbuild's target. */
export const LAMBDA_TARGET = 'node24';

export const LAMBDA_MAIN_FIELDS = ['module', 'main'];
