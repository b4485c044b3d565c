import { type HelloParams, Method, PROTOCOL_VERSION } from '../protocol.js'

/**
 * The handshake a broker transport answers for the other side: every client and member is treerpc
 * of this protocol, the broker carries JSON, and nothing reads batches (each call is its own message).
 */
export function brokerHello(): object {
  const params: HelloParams = { v: PROTOCOL_VERSION, peer: 'broker', ack: true, clone: false, batch: false }
  return { jsonrpc: '2.0', method: Method.Hello, params }
}
