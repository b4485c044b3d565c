import type { CloseInfo } from '../errors.js'
import type { Transferable, Transport } from '../transport.js'

type Schedule = (fn: () => void) => void

// Read at call time so that fake timers installed later still see real delivery when they fake
// only setTimeout; setImmediate keeps delivery a macrotask, as on a real MessagePort.
const schedule: Schedule = (fn) => (typeof setImmediate === 'function' ? setImmediate(fn) : setTimeout(fn, 0))

const CLOSE = Symbol('close')

/**
 * One end of an in-memory channel (see {@link createMemoryPair}). Behaves like a MessagePort: every
 * message is structured-cloned on send (so unsendable values throw a DataCloneError there, and
 * transferred ArrayBuffers are detached), and delivered asynchronously, in order.
 *
 * Messages wait until a listener is set (as on a port before `start()`), so either end may be
 * given to a peer first. `pause()` holds incoming messages back until `resume()`: for tests that need
 * a message to arrive late.
 */
export class MemoryTransport implements Transport {
  readonly capabilities = { structuredClone: true, transfer: true }
  other!: MemoryTransport
  #inbox: unknown[] = []
  #scheduled = false
  #paused = false
  #started = false
  #closed = false
  #onMessage: (message: unknown) => void = () => {}
  #onClose: (info: CloseInfo) => void = () => {}

  send(message: unknown, transfer?: readonly Transferable[]): void {
    if (this.#closed) return
    const copy = structuredClone(message, transfer && transfer.length > 0 ? { transfer: transfer as never } : undefined)
    this.other.#deliver(copy)
  }

  /** Like a MessagePort's `onmessage`: messages that arrived before are held until a listener is set. */
  onMessage(listener: (message: unknown) => void): void {
    this.#onMessage = listener
    this.#started = true
    this.#flushSoon()
  }

  onClose(listener: (info: CloseInfo) => void): void {
    this.#onClose = listener
  }

  /** Closes both ends. The other end receives what was sent before, then its close notification. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.other.#deliver(CLOSE)
    const listener = this.#onClose
    this.#inbox = []
    schedule(() => listener({ reason: 'the memory channel was closed' }))
  }

  pause(): void {
    this.#paused = true
  }

  resume(): void {
    this.#paused = false
    this.#flushSoon()
  }

  #deliver(message: unknown): void {
    if (this.#closed) return
    this.#inbox.push(message)
    this.#flushSoon()
  }

  #flushSoon(): void {
    if (this.#scheduled || this.#paused || !this.#started || this.#inbox.length === 0) return
    this.#scheduled = true
    schedule(this.#flush)
  }

  readonly #flush = (): void => {
    this.#scheduled = false
    const batch = this.#inbox
    this.#inbox = []
    for (let i = 0; i < batch.length; i++) {
      if (this.#closed) return
      if (this.#paused) {
        this.#inbox = batch.slice(i).concat(this.#inbox)
        return
      }
      const message = batch[i]
      if (message === CLOSE) {
        this.#closed = true
        this.#inbox = []
        this.#onClose({ reason: 'the other end of the memory channel closed' })
        return
      }
      this.#onMessage(message)
    }
  }
}

/** Two connected in-memory transports: what one sends, the other receives. For tests and in-process use. */
export function createMemoryPair(): [MemoryTransport, MemoryTransport] {
  const a = new MemoryTransport()
  const b = new MemoryTransport()
  a.other = b
  b.other = a
  return [a, b]
}
