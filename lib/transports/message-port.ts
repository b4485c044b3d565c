import type { CloseInfo } from '../errors.js'
import type { Transferable, Transport } from '../transport.js'

/** The standard (web) MessagePort interface, as in browsers, Electron renderers and Node's EventTarget side. */
export interface StandardMessagePort {
  postMessage(message: unknown, transfer?: Transferable[]): void
  addEventListener(type: 'message' | 'messageerror' | 'close', listener: (event: { data?: unknown }) => void): void
  removeEventListener(type: 'message' | 'messageerror' | 'close', listener: (event: { data?: unknown }) => void): void
  start?(): void
  close?(): void
}

export interface MessagePortTransportOptions {
  /** Call the port's `close()` on `close()` (default true). False for a Worker or a global scope you do not own. */
  ownsPort?: boolean
}

/**
 * Any standard MessagePort-like endpoint: a `MessagePort`, a browser `Worker`, a worker's `self`, an
 * Electron renderer's port. Uses `addEventListener` (so it never clobbers `onmessage`) and calls
 * `start()` where the port has one.
 *
 * A standard MessagePort says nothing when the other side goes away (browsers that support it fire
 * `close`, which is used); otherwise the peer learns of the end from treerpc's own close notice, and
 * calls to a vanished side end by their timeout.
 */
export class MessagePortTransport implements Transport {
  readonly capabilities = { structuredClone: true, transfer: true }
  readonly #port: StandardMessagePort
  readonly #ownsPort: boolean
  #closed = false
  #onMessage: (message: unknown) => void = () => {}
  #onClose: (info: CloseInfo) => void = () => {}

  constructor(port: StandardMessagePort, options: MessagePortTransportOptions = {}) {
    this.#port = port
    this.#ownsPort = options.ownsPort ?? true
    port.addEventListener('message', this.#message)
    port.addEventListener('close', this.#portClosed)
    port.start?.()
  }

  send(message: unknown, transfer?: readonly Transferable[]): void {
    if (this.#closed) return
    if (transfer !== undefined && transfer.length > 0) this.#port.postMessage(message, transfer as Transferable[])
    else this.#port.postMessage(message)
  }

  onMessage(listener: (message: unknown) => void): void {
    this.#onMessage = listener
  }

  onClose(listener: (info: CloseInfo) => void): void {
    this.#onClose = listener
  }

  close(): void {
    if (this.#closed) return
    this.#end({ reason: 'closed by this side' })
    if (this.#ownsPort) this.#port.close?.()
  }

  readonly #message = (event: { data?: unknown }): void => {
    this.#onMessage(event.data)
  }

  readonly #portClosed = (): void => {
    this.#end({ reason: 'the message port closed' })
  }

  #end(info: CloseInfo): void {
    if (this.#closed) return
    this.#closed = true
    this.#port.removeEventListener('message', this.#message)
    this.#port.removeEventListener('close', this.#portClosed)
    this.#onClose(info)
  }
}
