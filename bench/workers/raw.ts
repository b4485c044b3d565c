/**
 * The raw limit, other side: answers `{ id, m, a }` with `{ id, r }` directly on the channel, nothing
 * else. In a worker thread over `parentPort` (moving binary back), in a forked child over `process.send`.
 * Also serves blocking calls: after `{ m: 'sync', port, counter }` it answers requests on that port
 * and bumps the shared counter (Atomics.notify), the bare minimum a blocking call needs.
 */
import { isMainThread, type MessagePort, parentPort } from 'node:worker_threads'

interface Request {
  id?: number
  m: 'echo' | 'bin' | 'sink' | 'count' | 'sync'
  a?: unknown
  port?: MessagePort
  counter?: Int32Array
  /** The same echo in a JSON-RPC 2.0 envelope: `{ jsonrpc, id, method: 'echo', params: [a] }`. */
  jsonrpc?: '2.0'
  params?: unknown[]
}

/** Answers a JSON-RPC-shaped echo with `{ jsonrpc, id, result }`: what the envelope alone costs. */
const envelope = (message: Request): object => ({ jsonrpc: '2.0', id: message.id, result: message.params![0] })

let received = 0

if (!isMainThread && parentPort !== null) {
  const port = parentPort
  port.on('message', (message: Request) => {
    if (message.jsonrpc !== undefined) return port.postMessage(envelope(message))
    switch (message.m) {
      case 'echo':
        port.postMessage({ id: message.id, r: message.a })
        break
      case 'bin': {
        const bytes = message.a as Uint8Array
        port.postMessage({ id: message.id, r: bytes }, [bytes.buffer as ArrayBuffer])
        break
      }
      case 'sink':
        received++
        break
      case 'count':
        port.postMessage({ id: message.id, r: received })
        received = 0
        break
      case 'sync': {
        const syncPort = message.port!
        const counter = message.counter!
        syncPort.on('message', (request: { id: number; a: unknown }) => {
          syncPort.postMessage({ id: request.id, r: request.a })
          Atomics.add(counter, 0, 1)
          Atomics.notify(counter, 0)
        })
        syncPort.unref()
        break
      }
    }
  })
} else if (typeof process.send === 'function') {
  const send = process.send.bind(process)
  process.on('message', (message: Request) => {
    if (message.jsonrpc !== undefined) return void send(envelope(message))
    switch (message.m) {
      case 'echo':
      case 'bin':
        send({ id: message.id, r: message.a })
        break
      case 'sink':
        received++
        break
      case 'count':
        send({ id: message.id, r: received })
        received = 0
        break
    }
  })
}
