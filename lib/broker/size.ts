import { ErrorCode, RpcError } from '../errors.js'

/** Default `maxMessageSize` of clients and members: as the stream transport's, and under RabbitMQ's own 128 MiB limit. */
export const MAX_MESSAGE_SIZE = 64 * 1024 * 1024

/**
 * Throws RPC_MESSAGE_TOO_LARGE when `body` is over `max` bytes. A broker closes the whole connection
 * on a message over its own limit, failing every call on it: so one too large fails alone, here.
 */
export function checkSize(body: string, max: number, what: string): void {
  // A UTF-8 byte is at least one and at most three per UTF-16 unit: count bytes only in between.
  if (body.length * 3 <= max) return
  const bytes = body.length > max ? body.length : Buffer.byteLength(body)
  if (bytes > max) throw new RpcError(`${what} of ${bytes} bytes or more exceeds maxMessageSize (${max} bytes)`, ErrorCode.MessageTooLarge)
}
