/**
 * StreamTransport over real byte streams: a Unix-domain socket (net server + net.Socket), a spawned
 * process's stdio, and, for the framing edge cases, a pair of PassThrough streams written byte by
 * byte (or all at once) by the test itself, or cut into small chunks on their way.
 */
import { expect } from 'chai'
import sinon from 'sinon'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { PassThrough, type Readable, Transform } from 'node:stream'
import { fileURLToPath } from 'node:url'
import {
  callContext,
  ChannelClosedError,
  type CloseInfo,
  createPeer,
  MethodNotFoundError,
  type Peer,
  RemoteError,
  RpcError,
  StreamTransport,
  type StreamTransportOptions,
} from '../lib/index.js'
import type { StreamChildApi } from './fixtures/stream-echo.js'
import { closeTracked, deferred, rejection, tick, track } from './helpers.js'

const STREAM_CHILD = fileURLToPath(new URL('./fixtures/stream-echo.js', import.meta.url))

/** Text whose UTF-8 encoding has 2-, 3- and 4-byte sequences (and a ZWJ emoji sequence). */
const MULTIBYTE = 'héllo · 日本語テキスト · 한국어 · 🎉👩‍👩‍👧‍👦🚀 · ✓'

// ---- helpers: raw LSP frames, written and read by the test, not by the library ------------------

function frame(message: unknown, headersBefore = '', headersAfter = ''): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8')
  return Buffer.concat([Buffer.from(`${headersBefore}Content-Length: ${body.length}\r\n${headersAfter}\r\n`, 'ascii'), body])
}

/** Parses the LSP frames a stream carries, independently of StreamTransport. */
class FrameReader {
  readonly messages: any[] = []
  #buffer = Buffer.alloc(0)
  #waiters: Array<{ count: number; resolve: () => void }> = []

  constructor(stream: Readable) {
    stream.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk])
      for (;;) {
        const end = this.#buffer.indexOf('\r\n\r\n')
        if (end === -1) break
        const length = Number(/Content-Length: (\d+)/.exec(this.#buffer.subarray(0, end).toString('ascii'))![1])
        if (this.#buffer.length < end + 4 + length) break
        this.messages.push(JSON.parse(this.#buffer.subarray(end + 4, end + 4 + length).toString('utf8')))
        this.#buffer = this.#buffer.subarray(end + 4 + length)
      }
      this.#waiters = this.#waiters.filter((waiter) => {
        if (this.messages.length < waiter.count) return true
        waiter.resolve()
        return false
      })
    })
  }

  /** Resolves once `count` messages in all have been read. */
  async until(count: number): Promise<any[]> {
    if (this.messages.length < count) await new Promise<void>((resolve) => this.#waiters.push({ count, resolve }))
    return this.messages
  }

  /** The replies read so far, keyed by id. */
  replies(): Map<unknown, any> {
    return new Map(this.messages.filter((m) => 'id' in m && !('method' in m)).map((m) => [m.id, m]))
  }
}

const echoApi = {
  echo: (value: unknown) => value,
  length: (text: string) => text.length,
}

/**
 * A peer whose StreamTransport reads `input` and writes `output`, both driven by the test: the test
 * writes raw bytes to `input` and reads frames from `output`.
 */
function rawPeer(options: StreamTransportOptions = {}) {
  const input = new PassThrough()
  const output = new PassThrough()
  const transport = new StreamTransport(input, output, options)
  const peer = track(createPeer(transport, { handshake: false, expose: echoApi }))
  const closed = new Promise<CloseInfo>((resolve) => peer.on('close', resolve))
  const reader = new FrameReader(output)
  return { input, output, transport, peer, closed, reader }
}

/** Two peers joined by a pair of PassThrough streams. */
function streamPair(leftOptions: StreamTransportOptions = {}, rightOptions: StreamTransportOptions = {}) {
  const leftToRight = new PassThrough()
  const rightToLeft = new PassThrough()
  const left = track(createPeer(new StreamTransport(rightToLeft, leftToRight, leftOptions), { expose: echoApi }))
  const right = track(createPeer(new StreamTransport(leftToRight, rightToLeft, rightOptions), { expose: echoApi }))
  return { left, right, leftToRight, rightToLeft }
}

/** 'settled' once `promise` settles, or 'pending' if it has not within `ms` (to fail fast rather than hang). */
async function within(promise: Promise<unknown>, ms: number): Promise<'settled' | 'pending'> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const bound = new Promise<'pending'>((resolve) => {
    timer = setTimeout(resolve, ms, 'pending')
  })
  try {
    return await Promise.race([promise.then(() => 'settled' as const), bound])
  } finally {
    clearTimeout(timer)
  }
}

function describeSocket(socket: net.Socket): string {
  return `readableEnded=${socket.readableEnded} writableFinished=${socket.writableFinished} paused=${socket.isPaused()} destroyed=${socket.destroyed}`
}

/** A stream that passes its input on cut into chunks of at most `size` bytes, each its own 'data' event. */
function rechunk(size: number): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      for (let offset = 0; offset < chunk.length; offset += size) this.push(chunk.subarray(offset, offset + size))
      done()
    },
  })
}

async function writeBytewise(stream: PassThrough, bytes: Buffer): Promise<void> {
  for (let i = 0; i < bytes.length; i++) {
    stream.write(bytes.subarray(i, i + 1))
    // Let each byte be delivered as its own 'data' chunk.
    if (i % 16 === 0) await tick()
  }
}

// ---- real streams: a Unix-domain socket ---------------------------------------------------------

describe('StreamTransport over a Unix-domain socket', () => {
  let server: net.Server | undefined
  let sockets: net.Socket[] = []
  let socketPath = ''
  let counter = 0

  async function connect() {
    socketPath = path.join(os.tmpdir(), `treerpc-stream-${process.pid}-${++counter}.sock`)
    rmSync(socketPath, { force: true })
    server = net.createServer()
    server.listen(socketPath)
    await once(server, 'listening')
    const accepted = once(server, 'connection') as Promise<[net.Socket]>
    const client = net.connect(socketPath)
    await once(client, 'connect')
    const [serverSocket] = await accepted
    sockets = [client, serverSocket]
    return { client, serverSocket }
  }

  afterEach(async () => {
    // Leak-check and close this test's peers before tearing the sockets down under them.
    await closeTracked().finally(cleanup)
  })

  async function cleanup() {
    for (const socket of sockets) {
      if (!socket.destroyed) socket.destroy()
      if (!socket.closed) await once(socket, 'close')
    }
    sockets = []
    if (server !== undefined) {
      await new Promise((resolve) => server!.close(resolve))
      server = undefined
    }
    rmSync(socketPath, { force: true })
  }

  it('calls both ways, including a call back into the caller while its call is in flight', async () => {
    const { client, serverSocket } = await connect()
    const serverApi = {
      add: (a: number, b: number) => a + b,
      async viaClient(text: string) {
        return `server got ${await serverPeer.remote.upper(text)}`
      },
    }
    const clientApi = { upper: (text: string) => text.toUpperCase() }
    const serverPeer: Peer<typeof clientApi> = track(createPeer<typeof clientApi>(new StreamTransport(serverSocket, serverSocket), { expose: serverApi }))
    const clientPeer = track(createPeer<typeof serverApi>(new StreamTransport(client, client), { expose: clientApi }))
    expect(await clientPeer.remote.add(2, 40)).to.equal(42)
    expect(await serverPeer.remote.upper('abc')).to.equal('ABC')
    expect(await clientPeer.remote.viaClient('xyz')).to.equal('server got XYZ')
    const many = await Promise.all(Array.from({ length: 500 }, (_, i) => clientPeer.remote.add(i, 1)))
    expect(many.every((value, i) => value === i + 1)).to.equal(true)
  })

  it('carries a large multibyte payload that the socket splits into many chunks', async () => {
    const { client, serverSocket } = await connect()
    track(createPeer(new StreamTransport(serverSocket, serverSocket), { expose: echoApi }))
    const clientPeer = track(createPeer<typeof echoApi>(new StreamTransport(client, client)))
    const text = MULTIBYTE.repeat(20_000) // about 1.3 MB of UTF-8
    let chunks = 0
    serverSocket.on('data', () => chunks++)
    expect(await clientPeer.remote.echo(text)).to.equal(text)
    expect(chunks, 'the payload crossed several chunks').to.be.greaterThan(2)
  })

  it('delivers events both ways', async () => {
    const { client, serverSocket } = await connect()
    const serverPeer = track(createPeer(new StreamTransport(serverSocket, serverSocket)))
    const clientPeer = track(createPeer(new StreamTransport(client, client)))
    await Promise.all([serverPeer.ready, clientPeer.ready])
    const atClient = new Promise<unknown[]>((resolve) => clientPeer.on('progress', (...args) => resolve(args)))
    const atServer = new Promise<unknown[]>((resolve) => serverPeer.on('status', (...args) => resolve(args)))
    serverPeer.emit('progress', 3, 10, { label: MULTIBYTE })
    clientPeer.emit('status', 'ok')
    expect(await atClient).to.deep.equal([3, 10, { label: MULTIBYTE }])
    expect(await atServer).to.deep.equal(['ok'])
  })

  it('carries handler errors and unknown methods as coded errors, leaving the channel open', async () => {
    const { client, serverSocket } = await connect()
    track(createPeer(new StreamTransport(serverSocket, serverSocket), {
      expose: {
        fail() {
          throw Object.assign(new TypeError('bad input'), { code: 'E_BAD', detail: { field: 'x' } })
        },
        ok: () => 'fine',
      },
    }))
    const clientPeer = track(createPeer(new StreamTransport(client, client)))
    const error = await rejection(clientPeer.call('fail'))
    expect(error).to.be.instanceOf(RemoteError)
    expect(error.name).to.equal('TypeError')
    expect(error.message).to.equal('bad input')
    expect(error.code).to.equal('E_BAD')
    expect(error.detail).to.deep.equal({ field: 'x' })
    const missing = await rejection(clientPeer.call('no.such.thing'))
    expect(missing).to.be.instanceOf(MethodNotFoundError)
    expect(missing.path).to.equal('no.such.thing')
    expect(await clientPeer.call('ok')).to.equal('fine')
  })

  it('rejects pending calls with ChannelClosedError when the socket is destroyed mid-call', async () => {
    const { client, serverSocket } = await connect()
    const started = deferred()
    const serverPeer = track(createPeer(new StreamTransport(serverSocket, serverSocket), {
      expose: {
        hang() {
          const { signal } = callContext()
          started.resolve()
          return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)))
        },
      },
    }))
    const clientPeer = track(createPeer(new StreamTransport(client, client)))
    const serverClosed = new Promise((resolve) => serverPeer.on('close', resolve))
    const call = clientPeer.call('hang')
    await started.promise
    serverSocket.destroy()
    const error = await rejection(call)
    expect(error).to.be.instanceOf(ChannelClosedError)
    expect(error.code).to.equal('RPC_CHANNEL_CLOSED')
    await serverClosed
    expect(clientPeer.state).to.equal('closed')
    expect(serverPeer.state).to.equal('closed')
  })

  it('closes both ends cleanly when one peer closes', async () => {
    const { client, serverSocket } = await connect()
    const serverPeer = track(createPeer(new StreamTransport(serverSocket, serverSocket)))
    const clientPeer = track(createPeer(new StreamTransport(client, client)))
    await clientPeer.ready
    const serverClosed = new Promise<CloseInfo>((resolve) => serverPeer.on('close', resolve))
    clientPeer.close()
    expect((await serverClosed).local).to.not.equal(true)
    // Both directions are ended, so both sockets close by themselves (nobody destroys them). A socket
    // left half-open, never read to its end, would hold its file descriptor for ever.
    const bothClosed = Promise.all([client.closed ? undefined : once(client, 'close'), serverSocket.closed ? undefined : once(serverSocket, 'close')])
    const outcome = await within(bothClosed, 2000)
    expect(outcome, `sockets still open after both peers closed (client: ${describeSocket(client)}; server: ${describeSocket(serverSocket)})`).to.equal('settled')
  })
})

// ---- real streams: a spawned process's stdio ----------------------------------------------------

describe('StreamTransport over a spawned process\'s stdio', () => {
  let children: ChildProcess[] = []

  function start() {
    const child = spawn(process.execPath, [STREAM_CHILD], { stdio: ['pipe', 'pipe', 'inherit'] })
    children.push(child)
    const parentApi = { double: (x: number) => x * 2 }
    const peer = track(createPeer<StreamChildApi>(new StreamTransport(child.stdout!, child.stdin!), { expose: parentApi }))
    return { child, peer }
  }

  afterEach(async () => {
    await closeTracked().finally(killChildren)
  })

  async function killChildren() {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await once(child, 'exit')
      }
    }
    children = []
  }

  it('calls both ways with a child process over its stdin and stdout', async () => {
    const { child, peer } = start()
    expect(await peer.remote.pid()).to.equal(child.pid)
    expect(await peer.remote.add(20, 22)).to.equal(42)
    expect(await peer.remote.askParent(20)).to.equal(41)
    expect(await peer.remote.echo(MULTIBYTE)).to.equal(MULTIBYTE)
    const error = await rejection(peer.remote.fail('out of range'))
    expect(error).to.be.instanceOf(RemoteError)
    expect(error.name).to.equal('RangeError')
    const shouted = new Promise((resolve) => peer.on('shouted', resolve))
    await peer.remote.shout('hey')
    expect(await shouted).to.equal('HEY')
  })

  it('lets the child exit by itself once the parent closes the channel', async () => {
    const { child, peer } = start()
    await peer.ready
    const exited = once(child, 'exit')
    peer.close()
    const [code, signal] = await exited
    expect({ code, signal }).to.deep.equal({ code: 0, signal: null })
  })

  it('rejects a pending call with ChannelClosedError when the child is killed mid-call', async () => {
    const { child, peer } = start()
    await peer.ready
    const closed = new Promise<CloseInfo>((resolve) => peer.on('close', resolve))
    const call = peer.call('hang')
    // Make sure the call reached the child before killing it.
    expect(await peer.remote.add(1, 1)).to.equal(2)
    child.kill('SIGKILL')
    const error = await rejection(call)
    expect(error).to.be.instanceOf(ChannelClosedError)
    expect(error.code).to.equal('RPC_CHANNEL_CLOSED')
    await closed
    expect(peer.state).to.equal('closed')
    expect(peer.stats.pending).to.equal(0)
  })
})

// ---- framing, with the test writing the bytes ---------------------------------------------------

describe('StreamTransport framing', () => {
  it('reads frames split byte by byte, multibyte characters included', async () => {
    const { input, reader } = rawPeer()
    let chunks = 0
    input.on('data', () => chunks++)
    const bytes = Buffer.concat([
      frame({ jsonrpc: '2.0', id: 1, method: 'echo', params: [MULTIBYTE] }),
      frame({ jsonrpc: '2.0', id: 2, method: 'length', params: ['🎉日本'] }),
    ])
    await writeBytewise(input, bytes)
    await reader.until(2)
    expect(chunks, 'each byte arrived as its own chunk').to.equal(bytes.length)
    const replies = reader.replies()
    expect(replies.get(1)).to.deep.equal({ jsonrpc: '2.0', id: 1, result: MULTIBYTE })
    expect(replies.get(2)).to.deep.equal({ jsonrpc: '2.0', id: 2, result: '🎉日本'.length })
  })

  it('reads a 4-byte emoji and a 3-byte CJK character split across two chunks at every offset', async () => {
    const { input, reader } = rawPeer()
    const text = '🎉日'
    const bytes = frame({ jsonrpc: '2.0', id: 0, method: 'echo', params: [text] })
    const start = bytes.indexOf(Buffer.from(text, 'utf8'))
    let id = 0
    for (let cut = start; cut <= start + Buffer.byteLength(text); cut++) {
      const message = frame({ jsonrpc: '2.0', id: ++id, method: 'echo', params: [text] })
      input.write(message.subarray(0, cut))
      await tick()
      input.write(message.subarray(cut))
    }
    const messages = await reader.until(id)
    expect(messages.map((m) => m.result)).to.deep.equal(Array.from({ length: id }, () => text))
  })

  it('reads many frames merged into one chunk', async () => {
    const { input, reader } = rawPeer()
    const frames = Array.from({ length: 200 }, (_, i) => frame({ jsonrpc: '2.0', id: i + 1, method: 'echo', params: [`${i}:${MULTIBYTE}`] }))
    input.write(Buffer.concat(frames))
    await reader.until(200)
    const replies = reader.replies()
    for (let i = 0; i < 200; i++) expect(replies.get(i + 1).result).to.equal(`${i}:${MULTIBYTE}`)
  })

  it('reads frames whose boundaries fall anywhere inside chunks of odd sizes', async () => {
    const { input, reader } = rawPeer()
    const bytes = Buffer.concat(Array.from({ length: 50 }, (_, i) => frame({ jsonrpc: '2.0', id: i + 1, method: 'echo', params: [MULTIBYTE.slice(0, i)] })))
    for (let offset = 0, size = 1; offset < bytes.length; offset += size, size = (size * 7) % 97 + 1) {
      input.write(bytes.subarray(offset, offset + size))
    }
    await reader.until(50)
    const replies = reader.replies()
    for (let i = 0; i < 50; i++) expect(replies.get(i + 1).result).to.equal(MULTIBYTE.slice(0, i))
  })

  it('accepts extra headers such as Content-Type, before or after Content-Length', async () => {
    const { input, reader } = rawPeer()
    input.write(frame({ jsonrpc: '2.0', id: 1, method: 'echo', params: ['a'] }, 'Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n'))
    input.write(frame({ jsonrpc: '2.0', id: 2, method: 'echo', params: ['b'] }, '', 'Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n'))
    await reader.until(2)
    const replies = reader.replies()
    expect(replies.get(1).result).to.equal('a')
    expect(replies.get(2).result).to.equal('b')
  })

  it('writes frames whose Content-Length counts UTF-8 bytes, not characters', async () => {
    const { peer, output } = rawPeer()
    const chunks: Buffer[] = []
    output.on('data', (chunk: Buffer) => chunks.push(chunk))
    peer.notify('note', MULTIBYTE)
    await tick()
    const bytes = Buffer.concat(chunks)
    const end = bytes.indexOf('\r\n\r\n')
    const length = Number(/^Content-Length: (\d+)$/m.exec(bytes.subarray(0, end).toString('ascii'))![1])
    expect(length).to.equal(bytes.length - end - 4)
    expect(JSON.parse(bytes.subarray(end + 4).toString('utf8'))).to.deep.equal({ jsonrpc: '2.0', method: 'note', params: [MULTIBYTE] })
  })

  it('closes with RPC_MESSAGE_TOO_LARGE on a header announcing more than maxMessageSize, without waiting for the body', async () => {
    const { input, peer, closed, reader } = rawPeer({ maxMessageSize: 1024 })
    const call = peer.call('far.away', [1])
    await reader.until(1) // the call went out
    // Only the header: were the transport to buffer the body, it would wait for a megabyte that never comes.
    input.write('Content-Length: 1048576\r\n\r\n')
    const info = await closed
    expect(info.error).to.be.instanceOf(RpcError)
    expect((info.error as RpcError).code).to.equal('RPC_MESSAGE_TOO_LARGE')
    expect((info.error as RpcError).message).to.contain('1024')
    const error = await rejection(call)
    expect(error).to.be.instanceOf(ChannelClosedError)
    expect(error.cause).to.equal(info.error)
    expect(peer.state).to.equal('closed')
    // It stopped reading: nothing more is taken from the stream.
    expect(input.listenerCount('data')).to.equal(0)
  })

  it('closes with RPC_MESSAGE_TOO_LARGE on an oversize frame that arrives in one chunk', async () => {
    const { input, peer, closed } = rawPeer({ maxMessageSize: 1024 })
    input.write(frame({ jsonrpc: '2.0', id: 1, method: 'echo', params: ['x'.repeat(2000)] }))
    const info = await closed
    expect((info.error as RpcError).code).to.equal('RPC_MESSAGE_TOO_LARGE')
    expect(peer.state).to.equal('closed')
  })

  it('closes with RPC_INVALID_REQUEST on a header block without Content-Length', async () => {
    const { input, peer, closed, reader } = rawPeer()
    const call = peer.call('far.away')
    await reader.until(1)
    input.write('Content-Type: application/json\r\n\r\n{}')
    const info = await closed
    expect(info.error).to.be.instanceOf(RpcError)
    expect((info.error as RpcError).code).to.equal('RPC_INVALID_REQUEST')
    expect(await rejection(call)).to.be.instanceOf(ChannelClosedError)
  })

  for (const [title, header] of [
    ['a negative Content-Length', 'Content-Length: -5'],
    ['a non-numeric Content-Length', 'Content-Length: twelve'],
    ['a header line without a colon', 'Content-Length: 2\r\nnonsense'],
  ]) {
    it(`closes with RPC_INVALID_REQUEST on ${title}`, async () => {
      const { input, closed } = rawPeer()
      input.write(`${header}\r\n\r\n{}`)
      expect(((await closed).error as RpcError).code).to.equal('RPC_INVALID_REQUEST')
    })
  }

  it('closes with RPC_INVALID_REQUEST on a header block longer than maxHeaderSize that never ends', async () => {
    const { input, peer, closed } = rawPeer({ maxHeaderSize: 256 })
    const call = peer.call('far.away')
    for (let i = 0; i < 40; i++) input.write('X-Padding: aaaaaaaaaa\r\n')
    const info = await closed
    expect((info.error as RpcError).code).to.equal('RPC_INVALID_REQUEST')
    expect(await rejection(call)).to.be.instanceOf(ChannelClosedError)
  })

  it('closes with RPC_INVALID_REQUEST on a header block longer than maxHeaderSize even when it is complete in one chunk', async () => {
    const { input, closed, reader } = rawPeer({ maxHeaderSize: 256 })
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: ['smuggled'] })
    input.write(`X-Padding: ${'a'.repeat(1000)}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    // Either the transport refuses the header block, or the request behind it runs and is answered.
    const first = await Promise.race([closed.then(() => 'closed'), reader.until(1).then(() => 'the request behind the header was run')])
    expect(first).to.equal('closed')
    expect(((await closed).error as RpcError).code).to.equal('RPC_INVALID_REQUEST')
  })

  it('closes with RPC_INVALID_REQUEST on a body that is not JSON', async () => {
    const { input, peer, closed, reader } = rawPeer()
    const call = peer.call('far.away')
    await reader.until(1)
    input.write('Content-Length: 9\r\n\r\n{"jsonrpc')
    const info = await closed
    expect(info.error).to.be.instanceOf(RpcError)
    expect((info.error as RpcError).code).to.equal('RPC_INVALID_REQUEST')
    expect(await rejection(call)).to.be.instanceOf(ChannelClosedError)
  })

  it('fails only the one call whose message exceeds maxMessageSize on send', async () => {
    const { left } = streamPair({ maxMessageSize: 1024 }, { maxMessageSize: 1024 })
    const small = left.remote.echo('small')
    const big = left.call('echo', ['x'.repeat(2000)])
    const alsoSmall = left.remote.echo(MULTIBYTE)
    const error = await rejection(big)
    expect(error).to.be.instanceOf(RpcError)
    expect(error.code).to.equal('RPC_MESSAGE_TOO_LARGE')
    expect(error.message).to.contain('1024')
    expect(await small).to.equal('small')
    expect(await alsoSmall).to.equal(MULTIBYTE)
    expect(left.state).to.equal('open')
    expect(await left.remote.echo('after')).to.equal('after')
  })

  it('counts the limit in UTF-8 bytes: a short string of 4-byte characters can exceed it', async () => {
    const { left } = streamPair({ maxMessageSize: 1024 }, { maxMessageSize: 1024 })
    const emoji = '🎉'.repeat(300) // 300 characters, 1200 bytes
    const error = await rejection(left.call('echo', [emoji]))
    expect(error.code).to.equal('RPC_MESSAGE_TOO_LARGE')
    expect(await left.remote.echo('🎉'.repeat(100))).to.equal('🎉'.repeat(100))
  })
})

// ---- reassembly of a frame that arrives in many chunks (issue 8) --------------------------------

describe('StreamTransport reassembly of a frame in many chunks', () => {
  const MIB = 1024 * 1024

  afterEach(() => {
    sinon.restore()
  })

  /** Text of at least `bytes` bytes of UTF-8, multibyte characters included, so that chunks cut through them. */
  function textOf(bytes: number): string {
    return MULTIBYTE.repeat(Math.ceil(bytes / Buffer.byteLength(MULTIBYTE)))
  }

  it('carries a 4 MiB call argument cut into 256-byte chunks whole, both ways, and the call settles with its result', async () => {
    // Both directions go through a rechunker: every frame reaches its reader in 256-byte chunks.
    const leftToRight = new PassThrough()
    const rightToLeft = new PassThrough()
    const toRight = leftToRight.pipe(rechunk(256))
    const toLeft = rightToLeft.pipe(rechunk(256))
    const left = track(createPeer<typeof echoApi>(new StreamTransport(toLeft, leftToRight)))
    track(createPeer(new StreamTransport(toRight, rightToLeft), { expose: echoApi }))
    let chunks = 0
    toRight.on('data', () => chunks++)
    const text = textOf(4 * MIB)
    const result = await left.remote.echo(text)
    expect(result === text, 'the 4 MiB string came back equal').to.equal(true)
    expect(chunks, 'the call reached the other side in 256-byte chunks').to.be.at.least((4 * MIB) / 256)
  })

  it('copies each byte of a frame read in 256-byte chunks about once, not once per chunk after it', async () => {
    // Counts the bytes Buffer.concat produces while a frame of 256 KiB arrives in 1,024 chunks: about
    // the frame's size if the body is gathered once (linear), ~500 times it if the bytes received so
    // far are copied on every chunk (quadratic). No clock is read.
    const { input, reader } = rawPeer()
    const bytes = frame({ jsonrpc: '2.0', id: 1, method: 'length', params: [textOf(256 * 1024)] })
    const concat = sinon.spy(Buffer, 'concat')
    let chunks = 0
    input.on('data', () => chunks++)
    for (let offset = 0; offset < bytes.length; offset += 256) input.write(bytes.subarray(offset, offset + 256))
    const [reply] = await reader.until(1)
    concat.restore()
    expect(reply).to.deep.equal({ jsonrpc: '2.0', id: 1, result: textOf(256 * 1024).length })
    expect(chunks).to.equal(Math.ceil(bytes.length / 256))
    const copied = concat.returnValues.reduce((sum, buffer) => sum + buffer.length, 0)
    expect(copied, `Buffer.concat produced ${copied} bytes for a frame of ${bytes.length}`).to.be.below(3 * bytes.length)
  })

  it('finds the blank line after the headers wherever chunk boundaries cut it, in two or three chunks', async () => {
    const { input, reader } = rawPeer()
    const message = (id: number) => frame({ jsonrpc: '2.0', id, method: 'echo', params: [MULTIBYTE] })
    const separator = message(0).indexOf('\r\n\r\n')
    // Every cut from just before the blank line to just after it, alone and in pairs.
    const points = Array.from({ length: 7 }, (_, i) => separator - 1 + i)
    const splits = [...points.map((cut) => [cut]), ...points.flatMap((first, i) => points.slice(i + 1).map((second) => [first, second]))]
    for (const [index, cuts] of splits.entries()) {
      const bytes = message(index + 1)
      const bounds = [0, ...cuts, bytes.length]
      for (let i = 0; i + 1 < bounds.length; i++) {
        input.write(bytes.subarray(bounds[i], bounds[i + 1]))
        await tick() // each piece its own chunk
      }
    }
    await reader.until(splits.length)
    const replies = reader.replies()
    for (let id = 1; id <= splits.length; id++) expect(replies.get(id)?.result, `split ${JSON.stringify(splits[id - 1])}`).to.equal(MULTIBYTE)
  })

  it('accepts a header block of exactly maxHeaderSize bytes whose blank line arrives in the next chunk', async () => {
    const { input, reader, closed } = rawPeer({ maxHeaderSize: 256 })
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: ['fits'] })
    const length = `Content-Length: ${Buffer.byteLength(body)}`
    const headers = `X-Padding: ${'a'.repeat(256 - length.length - 'X-Padding: \r\n'.length)}\r\n${length}`
    expect(headers.length).to.equal(256)
    // The first chunk holds more than maxHeaderSize bytes and no blank line yet.
    input.write(`${headers}\r\n`)
    await tick()
    input.write(`\r\n${body}`)
    const first = await Promise.race([closed.then((info) => `closed: ${info.reason}`), reader.until(1).then(() => 'answered')])
    expect(first).to.equal('answered')
    expect(reader.messages[0]).to.deep.equal({ jsonrpc: '2.0', id: 1, result: 'fits' })
  })

  it('refuses a header block one byte over maxHeaderSize with RPC_INVALID_REQUEST, however it is cut', async () => {
    for (const cut of [1, 200, 257, 258, 259, 260]) {
      const { input, closed } = rawPeer({ maxHeaderSize: 256 })
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: ['too long'] })
      const length = `Content-Length: ${Buffer.byteLength(body)}`
      const bytes = Buffer.from(`X-Padding: ${'a'.repeat(257 - length.length - 'X-Padding: \r\n'.length)}\r\n${length}\r\n\r\n${body}`)
      expect(bytes.indexOf('\r\n\r\n')).to.equal(257)
      input.write(bytes.subarray(0, cut))
      await tick()
      input.write(bytes.subarray(cut))
      expect(((await closed).error as RpcError).code, `cut at ${cut}`).to.equal('RPC_INVALID_REQUEST')
    }
  })
})
