import type { CloseInfo } from '../errors.js'
import type { Transferable, Transport } from '../transport.js'

const ignore = (): void => {}

/**
 * What every transport shares: the two listeners the peer sets and the once-only close. A subclass
 * sends, hooks its channel's events, passes received messages to `receive`, and unhooks them in
 * `release()`, which `end()` calls exactly once before the close notification.
 */
export abstract class BaseTransport implements Transport {
  /** Hands a received message to the peer. */
  protected receive: (message: unknown) => void = ignore
  #onClose: (info: CloseInfo) => void = ignore
  /** Reports a message that `send` accepted but could not deliver after all. */
  protected sendFailed: (message: unknown, error: unknown) => void = ignore
  #closed = false

  abstract send(message: unknown, transfer?: readonly Transferable[]): void

  /** True once the channel has ended, whoever ended it. */
  get closed(): boolean {
    return this.#closed
  }

  onMessage(listener: (message: unknown) => void): void {
    this.receive = listener
  }

  onClose(listener: (info: CloseInfo) => void): void {
    this.#onClose = listener
  }

  onSendError(listener: (message: unknown, error: unknown) => void): void {
    this.sendFailed = listener
  }

  close(): void {
    this.end({ reason: 'closed by this side', local: true })
  }

  /** Ends the channel once: releases the subclass's hold on it, then notifies the peer. */
  protected end(info: CloseInfo): void {
    if (this.#closed) return
    this.#closed = true
    this.release()
    this.#onClose(info)
  }

  /** Removes listeners and lets go of the channel; called once, by `end()`. */
  protected abstract release(): void
}
