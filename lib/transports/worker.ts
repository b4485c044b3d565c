import type { MessagePort as NodeMessagePort, Worker } from 'node:worker_threads'
import type { BlockingChannel, Transferable } from '../transport.js'
import { BaseTransport } from './base.js'
import { SyncCaller, SyncResponder } from './blocking.js'

/**
 * The parent side of a `worker_threads` Worker. Messages are structured-cloned; transfer lists move
 * ArrayBuffers and MessagePorts. The close notification fires on the worker's `exit` with its exit
 * code (after an uncaught exception, with that error as the cause). `close()` detaches from the
 * worker; it never terminates it.
 */
export class WorkerTransport extends BaseTransport {
  readonly capabilities = { structuredClone: true, transfer: true }
  readonly #worker: Worker
  readonly #responder = new SyncResponder((message) => this.receive(message))
  #caller: SyncCaller | undefined
  #error: unknown

  constructor(worker: Worker) {
    super()
    this.#worker = worker
    worker.on('message', this.#message)
    worker.on('error', this.#errorEvent)
    worker.on('exit', this.#exit)
  }

  send(message: unknown, transfer?: readonly Transferable[]): void {
    if (this.closed || (message = this.#responder.route(message)) === undefined) return
    // An empty transfer list still costs a validation pass in postMessage: pass none.
    if (transfer === undefined || transfer.length === 0) this.#worker.postMessage(message)
    else this.#worker.postMessage(message, transfer as never)
  }

  /** Blocking calls into the worker (the main thread sleeps in Atomics.wait until the reply). */
  get blocking(): BlockingChannel {
    return (this.#caller ??= new SyncCaller((message, transfer) => this.#worker.postMessage(message, transfer)))
  }

  readonly #message = (message: unknown): void => {
    if (!this.#responder.accept(message)) this.receive(message)
  }

  readonly #errorEvent = (error: unknown): void => {
    // An uncaught exception in the worker: 'exit' follows with its code; keep the error for it.
    this.#error = error
  }

  readonly #exit = (code: number): void => {
    this.end(this.#error === undefined
      ? { reason: 'the worker exited', exitCode: code, signal: null }
      : { reason: 'the worker exited', exitCode: code, signal: null, error: this.#error })
  }

  protected release(): void {
    this.#worker.off('message', this.#message)
    this.#worker.off('exit', this.#exit)
    // The 'error' listener stays: without one, a later uncaught exception in the worker would crash this process.
    this.#responder.close()
    this.#caller?.close()
  }
}

export interface PortTransportOptions {
  /**
   * Close the port itself on `close()` (default true). Set false for a port this side does not own,
   * such as a worker's `parentPort`: the listener is removed and the port unref'd, so the thread can exit.
   */
  ownsPort?: boolean
}

/**
 * A Node `MessagePort` (from `MessageChannel`, or a worker's `parentPort`). The close notification
 * fires on the port's `close` event, i.e. when either end is closed.
 */
export class NodePortTransport extends BaseTransport {
  readonly capabilities = { structuredClone: true, transfer: true }
  readonly #port: NodeMessagePort
  readonly #ownsPort: boolean
  readonly #responder = new SyncResponder((message) => this.receive(message))
  #caller: SyncCaller | undefined

  constructor(port: NodeMessagePort, options: PortTransportOptions = {}) {
    super()
    this.#port = port
    this.#ownsPort = options.ownsPort ?? true
    port.on('message', this.#message)
    port.on('close', this.#portClosed)
  }

  send(message: unknown, transfer?: readonly Transferable[]): void {
    if (this.closed || (message = this.#responder.route(message)) === undefined) return
    if (transfer === undefined || transfer.length === 0) this.#port.postMessage(message)
    else this.#port.postMessage(message, transfer as never)
  }

  /** Blocking calls to the other end (this thread sleeps in Atomics.wait until the reply). */
  get blocking(): BlockingChannel {
    return (this.#caller ??= new SyncCaller((message, transfer) => this.#port.postMessage(message, transfer)))
  }

  readonly #message = (message: unknown): void => {
    if (!this.#responder.accept(message)) this.receive(message)
  }

  readonly #portClosed = (): void => {
    this.end({ reason: 'the message port closed' })
  }

  protected release(): void {
    this.#port.off('message', this.#message)
    this.#port.off('close', this.#portClosed)
    this.#responder.close()
    this.#caller?.close()
    if (this.#ownsPort) this.#port.close()
    else this.#port.unref()
  }
}
