export { clientConfig, openClient, openClients, withConnection, type OpenClientOptions } from './client.ts';
export { ConnectionError, describeConnectionError, type ConnectionFailureReason } from './errors.ts';
export { libpqConninfo, libpqEnvironment } from './libpq-env.ts';
export { redact, registerSecret } from './redact.ts';
export { tlsAttempts, tlsOptionsFor, type TlsPolicy } from './tls.ts';
export { ConnectionUrlError, describeEndpoint, formatConnectionUrl, parseConnectionUrl, SSL_MODES, withDatabase, type ConnectionSpec, type SslMode } from './url.ts';
export { isAccessDenied, MissingPermission, resolveSecretConnection, SecretMalformed, SecretNotFound, type ResolveSecretOptions, type SecretCache } from './secrets.ts';
