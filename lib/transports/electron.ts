/**
 * Electron channels, typed structurally against Electron's documented API so that treerpc never
 * imports or requires `electron`.
 *
 * Recommended pattern (see examples/electron): in main, `new MessageChannelMain()`; keep `port1` with
 * {@link MessagePortMainTransport}; hand `port2` to the renderer with `webContents.postMessage(...)`;
 * a preload (contextIsolation on, sandbox on, nodeIntegration off) forwards that port to the page,
 * which uses the standard `MessagePortTransport`.
 */
import type { Transferable } from '../transport.js'
import { BaseTransport } from './base.js'

/** Electron's `MessagePortMain`: a Node EventEmitter whose 'message' events carry `{ data, ports }`. */
export interface MessagePortMainLike {
  postMessage(message: unknown, transfer?: unknown[]): void
  on(event: 'message', listener: (event: { data: unknown; ports?: unknown[] }) => void): unknown
  on(event: 'close', listener: () => void): unknown
  off(event: 'message', listener: (event: { data: unknown; ports?: unknown[] }) => void): unknown
  off(event: 'close', listener: () => void): unknown
  start(): void
  close(): void
}

/**
 * Main-process side over a `MessagePortMain`. The close notification fires on the port's 'close'.
 *
 * Electron's `MessagePortMain.postMessage(message, transfer?: MessagePortMain[])` moves ports only:
 * so `capabilities.transfer` is false, and ArrayBuffers in a transfer list (a `transfer()` mark or
 * `{ transfer }`) are left out of it and copied to the renderer, staying usable in main. Ports in the
 * list are still moved.
 */
export class MessagePortMainTransport extends BaseTransport {
  readonly capabilities = { structuredClone: true, transfer: false }
  readonly #port: MessagePortMainLike

  constructor(port: MessagePortMainLike) {
    super()
    this.#port = port
    port.on('message', this.#message)
    port.on('close', this.#portClosed)
    port.start()
  }

  send(message: unknown, transfer?: readonly Transferable[]): void {
    if (this.closed) return
    // Electron throws on anything but a MessagePortMain in the list: buffers are copied instead.
    const ports = transfer?.filter(isPort)
    if (ports !== undefined && ports.length > 0) this.#port.postMessage(message, ports)
    else this.#port.postMessage(message)
  }

  readonly #message = (event: { data: unknown }): void => {
    this.receive(event.data)
  }

  readonly #portClosed = (): void => {
    this.end({ reason: 'the renderer closed its port' })
  }

  protected release(): void {
    this.#port.off('message', this.#message)
    this.#port.off('close', this.#portClosed)
    this.#port.close()
  }
}

/** A port (something with `postMessage`), as opposed to an ArrayBuffer. */
function isPort(item: Transferable): boolean {
  return typeof item === 'object' && 'postMessage' in item
}

/** The parts of Electron's `IpcMainEvent` the ipcMain transport checks. */
export interface IpcMainEventLike {
  sender: unknown
  /** Null when the frame navigated away or was destroyed. */
  senderFrame?: unknown | null
}

/** Electron's `ipcMain` (the parts used). */
export interface IpcMainLike {
  on(channel: string, listener: (event: IpcMainEventLike, ...args: unknown[]) => void): unknown
  removeListener(channel: string, listener: (event: IpcMainEventLike, ...args: unknown[]) => void): unknown
}

/** Electron's `WebContents` (the parts used). */
export interface WebContentsLike {
  send(channel: string, ...args: unknown[]): void
  isDestroyed(): boolean
  once(event: 'destroyed' | 'render-process-gone' | 'did-navigate', listener: (...args: any[]) => void): unknown
  removeListener(event: 'destroyed' | 'render-process-gone' | 'did-navigate', listener: (...args: any[]) => void): unknown
}

export interface IpcMainTransportOptions {
  ipcMain: IpcMainLike
  /** The only renderer whose messages are accepted. */
  webContents: WebContentsLike
  /** The IPC channel name. Default 'treerpc'. */
  channel?: string
}

const LIFECYCLE = ['destroyed', 'render-process-gone', 'did-navigate'] as const

/**
 * Main-process side over `ipcMain` / `webContents.send`. One enforcement point for the sender:
 * a message is accepted only from the expected `webContents` with a live `senderFrame`; anything
 * else is dropped (fail closed). The channel closes when the renderer is destroyed, crashes or
 * navigates (a reload loses the page's peer), so pending calls reject instead of hanging; every send
 * checks that the renderer still exists. Uses `send`/`on` only, never `sendSync` or `invoke`.
 */
export class IpcMainTransport extends BaseTransport {
  readonly capabilities = { structuredClone: true, transfer: false }
  readonly #ipcMain: IpcMainLike
  readonly #webContents: WebContentsLike
  readonly #channel: string
  /** Messages refused because they came from another sender or a dead frame. */
  rejected = 0

  constructor(options: IpcMainTransportOptions) {
    super()
    this.#ipcMain = options.ipcMain
    this.#webContents = options.webContents
    this.#channel = options.channel ?? 'treerpc'
    this.#ipcMain.on(this.#channel, this.#message)
    for (const event of LIFECYCLE) this.#webContents.once(event, this.#gone)
  }

  send(message: unknown): void {
    if (this.closed) return
    if (this.#webContents.isDestroyed()) return this.end({ reason: 'the renderer was destroyed' })
    this.#webContents.send(this.#channel, message)
  }

  readonly #message = (event: IpcMainEventLike, message?: unknown): void => {
    if (event.sender !== this.#webContents || event.senderFrame === null) {
      this.rejected++
      return
    }
    this.receive(message)
  }

  readonly #gone = (): void => {
    this.end({ reason: 'the renderer went away (destroyed, crashed or navigated)' })
  }

  protected release(): void {
    this.#ipcMain.removeListener(this.#channel, this.#message)
    for (const event of LIFECYCLE) this.#webContents.removeListener(event, this.#gone)
  }
}

/**
 * The narrow bridge a preload exposes to the page with `contextBridge.exposeInMainWorld` when the
 * ipcMain transport is used (never expose `ipcRenderer` itself):
 *
 * ```js
 * contextBridge.exposeInMainWorld('treerpc', {
 *   send: (message) => ipcRenderer.send('treerpc', message),
 *   subscribe: (listener) => {
 *     const wrapped = (_event, message) => listener(message)
 *     ipcRenderer.on('treerpc', wrapped)
 *     return () => ipcRenderer.removeListener('treerpc', wrapped)
 *   },
 * })
 * ```
 */
export interface RendererBridge {
  send(message: unknown): void
  subscribe(listener: (message: unknown) => void): () => void
}

/** Renderer side over a {@link RendererBridge} exposed by the preload. */
export class RendererBridgeTransport extends BaseTransport {
  readonly capabilities = { structuredClone: true, transfer: false }
  readonly #bridge: RendererBridge
  readonly #unsubscribe: () => void

  constructor(bridge: RendererBridge) {
    super()
    this.#bridge = bridge
    this.#unsubscribe = bridge.subscribe((message) => {
      if (!this.closed) this.receive(message)
    })
  }

  send(message: unknown): void {
    if (!this.closed) this.#bridge.send(message)
  }

  protected release(): void {
    this.#unsubscribe()
  }
}
