/**
 * Electron transports.
 *
 * Electron itself cannot run here: its npm installer downloads a prebuilt binary, and there is no
 * display. These specs therefore test the transports against Electron's DOCUMENTED interface, with
 * minimal stand-ins built from node:events EventEmitter:
 *
 * - `MessagePortMain` (https://www.electronjs.org/docs/latest/api/message-port-main) is an
 *   EventEmitter whose 'message' events carry `{ data, ports }`, with `postMessage(message, transfer?)`,
 *   `start()` (messages are queued until it is called), `close()` and a 'close' event when the remote
 *   end disconnects. The stand-in wraps one end of a REAL node:worker_threads MessageChannel, so that
 *   messages really cross a port (structured clone, asynchronous delivery, real 'close').
 * - `ipcMain.on(channel, (event, ...args))` (https://www.electronjs.org/docs/latest/api/ipc-main),
 *   where `event.sender` is the sending WebContents and `event.senderFrame` its frame (null once the
 *   frame navigated away or was destroyed).
 * - `webContents.send(channel, ...args)` (throws once destroyed), `isDestroyed()`, and the
 *   'destroyed', 'render-process-gone' and 'did-navigate' events
 *   (https://www.electronjs.org/docs/latest/api/web-contents).
 * - `ipcRenderer.send/on/removeListener`, used only through the narrow preload bridge that
 *   RendererBridgeTransport documents.
 *
 * IPC deliveries are asynchronous and structured-cloned, as in Electron.
 */
import { expect } from 'chai'
import { EventEmitter } from 'node:events'
import { MessageChannel, type MessagePort as NodeMessagePort } from 'node:worker_threads'
import sinon from 'sinon'
import {
  callContext,
  ChannelClosedError,
  type CloseInfo,
  createPeer,
  IpcMainTransport,
  MessagePortMainTransport,
  MessagePortTransport,
  type Peer,
  RemoteError,
  type RendererBridge,
  RendererBridgeTransport,
  transfer,
} from '../lib/index.js'
import { closeTracked, deferred, rejection, tick, ticks, track } from './helpers.js'

// ---- stand-ins for Electron's main-process objects ----------------------------------------------

/** Electron's MessagePortMain over one end of a real worker_threads MessageChannel. */
class FakeMessagePortMain extends EventEmitter {
  readonly #port: NodeMessagePort
  #started = false

  constructor(port: NodeMessagePort) {
    super()
    this.#port = port
    // 'close' is reported whether or not the port was started.
    port.on('close', () => this.emit('close'))
  }

  postMessage(message: unknown, transfer?: unknown[]): void {
    // Electron only accepts MessagePortMain objects in `transfer` (it throws on an ArrayBuffer);
    // no port is transferred in these specs.
    if (transfer?.some((item) => !(item instanceof FakeMessagePortMain))) throw new TypeError('only MessagePortMain objects can be transferred')
    this.#port.postMessage(message)
  }

  /** Messages are queued until start() (Node's port queues them too while it has no 'message' listener). */
  start(): void {
    if (this.#started) return
    this.#started = true
    this.#port.on('message', (data: unknown) => this.emit('message', { data, ports: [] }))
  }

  close(): void {
    this.#port.close()
  }
}

/** Electron's ipcRenderer: `send` reaches ipcMain asynchronously, structured-cloned, with an IpcMainEvent. */
class FakeIpcRenderer extends EventEmitter {
  constructor(
    readonly ipcMain: EventEmitter,
    readonly renderer: FakeRenderer,
  ) {
    super()
  }

  send(channel: string, ...args: unknown[]): void {
    const copies = structuredClone(args)
    const event = { sender: this.renderer.webContents, senderFrame: this.renderer.senderFrame }
    setImmediate(() => this.ipcMain.emit(channel, event, ...copies))
  }
}

/** A renderer process: its ipcRenderer, its WebContents (as main sees it) and its frame. */
class FakeRenderer {
  readonly ipcRenderer: FakeIpcRenderer
  readonly webContents: FakeWebContents
  /** What main sees as `event.senderFrame`; null once the frame is gone. */
  senderFrame: object | null = { url: 'app://index.html' }

  constructor(ipcMain: EventEmitter) {
    this.ipcRenderer = new FakeIpcRenderer(ipcMain, this)
    this.webContents = new FakeWebContents(this)
  }

  /** The preload's bridge, exactly as RendererBridgeTransport's documentation writes it. */
  bridge(channel = 'treerpc'): RendererBridge {
    const ipcRenderer = this.ipcRenderer
    return {
      send: (message) => ipcRenderer.send(channel, message),
      subscribe: (listener) => {
        const wrapped = (_event: unknown, message: unknown) => listener(message)
        ipcRenderer.on(channel, wrapped)
        return () => ipcRenderer.removeListener(channel, wrapped)
      },
    }
  }
}

/** Electron's WebContents, as main sees the renderer. */
class FakeWebContents extends EventEmitter {
  #destroyed = false
  constructor(readonly renderer: FakeRenderer) {
    super()
  }

  send(channel: string, ...args: unknown[]): void {
    // Electron throws "Object has been destroyed" here.
    if (this.#destroyed) throw new TypeError('Object has been destroyed')
    const copies = structuredClone(args)
    setImmediate(() => this.renderer.ipcRenderer.emit(channel, { sender: 'ipcRenderer' }, ...copies))
  }

  isDestroyed(): boolean {
    return this.#destroyed
  }

  /** Marks it destroyed without emitting anything (the event may not have been seen yet). */
  markDestroyed(): void {
    this.#destroyed = true
  }

  destroy(): void {
    this.#destroyed = true
    this.emit('destroyed')
  }
}

const LIFECYCLE = ['destroyed', 'render-process-gone', 'did-navigate'] as const

// ---- MessagePortMain ----------------------------------------------------------------------------

describe('Electron: MessagePortMainTransport (main) ↔ MessagePortTransport (renderer)', () => {
  let ports: NodeMessagePort[] = []

  afterEach(async () => {
    try {
      await closeTracked()
    } finally {
      for (const port of ports) port.close()
      ports = []
    }
  })

  function connect(mainExpose: object, rendererExpose: object) {
    // new MessageChannelMain(): main keeps port1, port2 goes to the page (through the preload).
    const { port1, port2 } = new MessageChannel()
    ports.push(port1, port2)
    const mainPort = new FakeMessagePortMain(port1)
    const main: Peer<any> = track(createPeer(new MessagePortMainTransport(mainPort), { expose: mainExpose }))
    const renderer: Peer<any> = track(createPeer(new MessagePortTransport(port2), { expose: rendererExpose }))
    return { main, renderer, mainPort, port1, port2 }
  }

  it('calls both ways, and carries events and errors', async () => {
    const mainApi = {
      app: { version: () => '1.2.3' },
      fs: {
        read(name: string) {
          if (name.includes('..')) throw Object.assign(new Error('path escapes the sandbox'), { code: 'E_PATH' })
          return `contents of ${name}`
        },
      },
    }
    const rendererApi = {
      ui: {
        async confirm(question: string) {
          return `${question} -> yes (main says ${await renderer.remote.app.version()})`
        },
      },
    }
    const { main, renderer } = connect(mainApi, rendererApi)
    expect(await renderer.remote.app.version()).to.equal('1.2.3')
    expect(await renderer.remote.fs.read('a.txt')).to.equal('contents of a.txt')
    expect(await main.remote.ui.confirm('quit?')).to.equal('quit? -> yes (main says 1.2.3)')
    const error = await rejection(renderer.remote.fs.read('../etc/passwd'))
    expect(error).to.be.instanceOf(RemoteError)
    expect(error.code).to.equal('E_PATH')
    const seen = new Promise<unknown[]>((resolve) => renderer.on('theme', (...args) => resolve(args)))
    main.emit('theme', 'dark', new Date(0))
    const [theme, when] = await seen
    expect(theme).to.equal('dark')
    expect(when).to.be.instanceOf(Date)
  })

  it('rejects main\'s pending calls with ChannelClosedError when the renderer\'s port closes', async () => {
    const started = deferred()
    const { main, renderer, port2 } = connect({}, {
      hang() {
        const { signal } = callContext()
        started.resolve()
        return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)))
      },
    })
    const call = main.call('hang')
    await started.promise
    const closed = new Promise<CloseInfo>((resolve) => main.on('close', resolve))
    port2.close() // the page went away with its port
    const error = await rejection(call)
    expect(error).to.be.instanceOf(ChannelClosedError)
    expect((await closed).reason).to.be.a('string')
    expect(main.state).to.equal('closed')
    expect(renderer.state).to.equal('closed')
  })

  it('releases its listeners on the MessagePortMain when closed', async () => {
    const { main, renderer, mainPort } = connect({}, {})
    await main.ready
    expect(mainPort.listenerCount('message')).to.equal(1)
    expect(mainPort.listenerCount('close')).to.equal(1)
    const rendererClosed = new Promise((resolve) => renderer.on('close', resolve))
    main.close()
    await rendererClosed
    expect(mainPort.listenerCount('message')).to.equal(0)
    expect(mainPort.listenerCount('close')).to.equal(0)
  })

  it('copies, not moves, a transfer-marked ArrayBuffer to the renderer (MessagePortMain moves ports only)', async () => {
    const { main, mainPort } = connect({}, {
      take: (buffer: ArrayBuffer) => ({ byteLength: buffer.byteLength, first: new Uint8Array(buffer)[0] }),
    })
    const transport = new MessagePortMainTransport(new FakeMessagePortMain(new MessageChannel().port1))
    transport.close()
    expect(transport.capabilities.transfer).to.equal(false)
    const post = sinon.spy(mainPort, 'postMessage')
    const buffer = new Uint8Array([7, 8, 9]).buffer
    expect(await main.remote.take(transfer(buffer, [buffer]))).to.deep.equal({ byteLength: 3, first: 7 })
    expect(await main.call('take', [buffer], { transfer: [buffer] })).to.deep.equal({ byteLength: 3, first: 7 })
    expect(buffer.byteLength, 'still usable in main').to.equal(3)
    expect(post.args.every((args) => args[1] === undefined), 'no ArrayBuffer reaches MessagePortMain.postMessage').to.equal(true)
  })

  it('still moves a port in the transfer list, leaving the ArrayBuffers out of it', () => {
    const { port1, port2 } = new MessageChannel()
    const mainPort = new FakeMessagePortMain(port1)
    const post = sinon.stub(mainPort, 'postMessage')
    const transport = new MessagePortMainTransport(mainPort)
    const other = new FakeMessagePortMain(port2)
    const buffer = new ArrayBuffer(4)
    transport.send({ hello: true }, [buffer, other])
    transport.send({ hello: false }, [buffer])
    transport.close()
    port2.close()
    expect(post.args).to.deep.equal([[{ hello: true }, [other]], [{ hello: false }]])
    expect(buffer.byteLength).to.equal(4)
  })
})

// ---- ipcMain / webContents.send -------------------------------------------------------------

describe('Electron: IpcMainTransport (main) ↔ RendererBridgeTransport (renderer)', () => {
  afterEach(async () => {
    await closeTracked()
    sinon.restore()
  })

  function connect(mainExpose: object = {}, rendererExpose: object = {}) {
    const ipcMain = new EventEmitter()
    const renderer = new FakeRenderer(ipcMain)
    const transport = new IpcMainTransport({ ipcMain, webContents: renderer.webContents })
    const main: Peer<any> = track(createPeer(transport, { expose: mainExpose }))
    const page: Peer<any> = track(createPeer(new RendererBridgeTransport(renderer.bridge()), { expose: rendererExpose }))
    return { ipcMain, renderer, transport, main, page }
  }

  function hanging(started: { resolve: () => void }) {
    return {
      hang() {
        const { signal } = callContext()
        started.resolve()
        return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)))
      },
    }
  }

  it('calls both ways, and carries events', async () => {
    const mainApi = { settings: { get: (key: string) => ({ key, value: 42 }) } }
    const pageApi = {
      async title(prefix: string) {
        const { value } = await page.remote.settings.get('zoom')
        return `${prefix}: zoom ${value}`
      },
    }
    const { main, page } = connect(mainApi, pageApi)
    expect(await page.remote.settings.get('zoom')).to.deep.equal({ key: 'zoom', value: 42 })
    expect(await main.remote.title('window')).to.equal('window: zoom 42')
    const seen = new Promise<unknown[]>((resolve) => main.on('clicked', (...args) => resolve(args)))
    page.emit('clicked', { x: 1, y: 2 })
    expect(await seen).to.deep.equal([{ x: 1, y: 2 }])
    const missing = await rejection(page.remote.no.such.path())
    expect(missing.code).to.equal('RPC_METHOD_NOT_FOUND')
  })

  it('drops, and counts in transport.rejected, messages sent by another webContents', async () => {
    const secret = sinon.spy(() => 'the secret')
    const { ipcMain, transport, main, page } = connect({ secret })
    await main.ready
    const intruder = new FakeRenderer(ipcMain)
    const sendToIntruder = sinon.spy(intruder.webContents, 'send')
    // Another window, on the same channel, with a request and a forged close notice.
    const bridge = intruder.bridge()
    bridge.send({ jsonrpc: '2.0', id: 1, method: 'secret', params: [] })
    bridge.send({ jsonrpc: '2.0', method: 'rpc.close' })
    await tick()
    await tick()
    expect(transport.rejected).to.equal(2)
    expect(secret.called).to.equal(false)
    expect(sendToIntruder.called).to.equal(false)
    expect(main.state).to.equal('open')
    // The real renderer is unaffected.
    expect(await page.remote.secret()).to.equal('the secret')
    expect(secret.calledOnce).to.equal(true)
  })

  it('drops, and counts, a message whose senderFrame is null (frame navigated away or destroyed)', async () => {
    const secret = sinon.spy(() => 'the secret')
    const { renderer, transport, main, page } = connect({ secret })
    await Promise.all([main.ready, page.ready])
    await ticks(4) // let the handshake's last messages land
    const rejectedBefore = transport.rejected
    // Same webContents, but its frame is gone: the message must not be trusted.
    renderer.senderFrame = null
    renderer.bridge().send({ jsonrpc: '2.0', id: 99, method: 'secret', params: [] })
    await ticks(2)
    expect(transport.rejected).to.equal(rejectedBefore + 1)
    expect(secret.called).to.equal(false)
    expect(main.state).to.equal('open')
  })

  for (const event of LIFECYCLE) {
    it(`rejects main's pending calls with ChannelClosedError when webContents emits '${event}'`, async () => {
      const started = deferred()
      const { renderer, main, page } = connect({}, hanging(started))
      const call = main.call('hang')
      await started.promise
      const closed = new Promise<CloseInfo>((resolve) => main.on('close', resolve))
      renderer.webContents.emit(event, ...(event === 'render-process-gone' ? [{}, { reason: 'crashed', exitCode: 139 }] : []))
      const error = await rejection(call)
      expect(error).to.be.instanceOf(ChannelClosedError)
      expect(error.code).to.equal('RPC_CHANNEL_CLOSED')
      await closed
      expect(main.state).to.equal('closed')
      // The page (here still alive) is told nothing by a dead renderer; close it as Electron would.
      page.close()
    })
  }

  it('closes the channel, rather than throwing, on a send after isDestroyed() turns true', async () => {
    const { renderer, main, page } = connect({}, { ping: () => 'pong' })
    expect(await main.remote.ping()).to.equal('pong')
    const send = sinon.spy(renderer.webContents, 'send')
    renderer.webContents.markDestroyed() // destroyed, but no event seen yet
    const closed = new Promise<CloseInfo>((resolve) => main.on('close', resolve))
    let call: ReturnType<typeof main.call> | undefined
    expect(() => {
      call = main.call('ping')
    }).to.not.throw()
    const error = await rejection(call!)
    expect(error).to.be.instanceOf(ChannelClosedError)
    expect(await closed).to.have.property('reason').that.is.a('string')
    expect(main.state).to.equal('closed')
    expect(send.called, 'never sends to a destroyed webContents').to.equal(false)
    expect(() => main.notify('late')).to.throw(ChannelClosedError)
    page.close()
  })

  it('removes every listener it added, on ipcMain, webContents and ipcRenderer, when closed', async () => {
    const { ipcMain, renderer, main, page } = connect()
    await Promise.all([main.ready, page.ready])
    expect(ipcMain.listenerCount('treerpc')).to.equal(1)
    expect(renderer.ipcRenderer.listenerCount('treerpc')).to.equal(1)
    for (const event of LIFECYCLE) expect(renderer.webContents.listenerCount(event), event).to.equal(1)
    const pageClosed = new Promise((resolve) => page.on('close', resolve))
    main.close()
    await pageClosed
    expect(ipcMain.listenerCount('treerpc')).to.equal(0)
    for (const event of LIFECYCLE) expect(renderer.webContents.listenerCount(event), event).to.equal(0)
    // Unsubscribe really unsubscribes: the renderer's ipcRenderer listener is gone.
    expect(renderer.ipcRenderer.listenerCount('treerpc')).to.equal(0)
  })

  it('removes the renderer listener when the page closes its own peer', async () => {
    const { renderer, main, page } = connect()
    await page.ready
    expect(renderer.ipcRenderer.listenerCount('treerpc')).to.equal(1)
    const mainClosed = new Promise((resolve) => main.on('close', resolve))
    page.close()
    expect(renderer.ipcRenderer.listenerCount('treerpc')).to.equal(0)
    await mainClosed
  })

  it('keeps one underlying listener per channel and only delivers to its own channel', async () => {
    const ipcMain = new EventEmitter()
    const renderer = new FakeRenderer(ipcMain)
    const mainA = track(createPeer(new IpcMainTransport({ ipcMain, webContents: renderer.webContents, channel: 'a' }), { expose: { who: () => 'a' } }))
    const mainB = track(createPeer(new IpcMainTransport({ ipcMain, webContents: renderer.webContents, channel: 'b' }), { expose: { who: () => 'b' } }))
    const pageA = track(createPeer<any>(new RendererBridgeTransport(renderer.bridge('a'))))
    const pageB = track(createPeer<any>(new RendererBridgeTransport(renderer.bridge('b'))))
    expect(await pageA.remote.who()).to.equal('a')
    expect(await pageB.remote.who()).to.equal('b')
    expect(ipcMain.listenerCount('a')).to.equal(1)
    expect(ipcMain.listenerCount('b')).to.equal(1)
    await Promise.all([mainA.ready, mainB.ready])
  })
})
