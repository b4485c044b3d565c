// The page side of spec/browser.spec.ts: opens a channel to a dedicated worker, an iframe or a shared
// worker, and runs one scenario at a time, returning plain data for Node to assert on.
import { CancelledError, ChannelClosedError, createPeer, MessagePortTransport, RemoteError, release, TimeoutError } from '/treerpc.js'
import { PEER_OPTIONS } from './api.js'

const connections = new Map()
let nextId = 0

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Opens a channel of `kind` and resolves with its id once the handshake is done. */
export async function open(kind) {
  const id = ++nextId
  let transport
  let kill
  if (kind === 'worker') {
    const worker = new Worker('./worker.js', { type: 'module' })
    transport = new MessagePortTransport(worker, { ownsPort: false })
    kill = () => worker.terminate()
  } else if (kind === 'iframe') {
    const frame = document.createElement('iframe')
    frame.src = './frame.html'
    const loaded = new Promise((resolve) => frame.addEventListener('load', resolve, { once: true }))
    document.body.append(frame)
    await loaded
    const { port1, port2 } = new MessageChannel()
    frame.contentWindow.postMessage('treerpc-port', location.origin, [port2])
    transport = new MessagePortTransport(port1)
    kill = () => frame.remove()
  } else if (kind === 'shared-worker') {
    const shared = new SharedWorker('./shared-worker.js', { type: 'module' })
    transport = new MessagePortTransport(shared.port)
    kill = () => shared.port.close()
  } else {
    throw new Error(`unknown kind ${kind}`)
  }
  const connection = { kind, kill, twiceCalls: 0, pongs: [] }
  const peer = createPeer(transport, {
    ...PEER_OPTIONS,
    expose: {
      page: {
        /** Called by the far side during its `nested` handler; calls the far side once more. */
        async twice(n) {
          connection.twiceCalls++
          const echoed = await peer.remote.echo(n)
          return echoed * 2
        },
      },
    },
  })
  peer.on('pong', (event) => connection.pongs.push(event))
  connection.peer = peer
  connections.set(id, connection)
  await peer.ready
  return id
}

export async function close(id) {
  const connection = connections.get(id)
  if (connection === undefined) return
  connections.delete(id)
  await connection.peer.close()
  connection.kill()
}

function describeError(error) {
  return {
    name: error?.name,
    code: error?.code,
    message: error?.message,
    isChannelClosed: error instanceof ChannelClosedError,
    isTimeout: error instanceof TimeoutError,
    isCancelled: error instanceof CancelledError,
    isRemote: error instanceof RemoteError,
  }
}

/** Runs one scenario on connection `id`. */
export async function run(id, scenario) {
  const connection = connections.get(id)
  const { peer } = connection
  const far = peer.remote
  switch (scenario) {
    case 'where':
      return far.where()
    case 'nested': {
      const result = await far.nested(20)
      return { ...result, twiceCalls: connection.twiceCalls }
    }
    case 'events': {
      connection.pongs.length = 0
      for (const value of [1, 'two', { three: 3 }]) peer.emit('ping', value)
      for (let i = 0; i < 100 && connection.pongs.length < 3; i++) await sleep(10)
      return connection.pongs
    }
    case 'timeout': {
      const start = performance.now()
      try {
        return { resolved: await peer.call('sleep', [5000], { timeout: 100 }) }
      } catch (error) {
        return { ...describeError(error), ms: performance.now() - start }
      }
    }
    case 'cancel': {
      const controller = new AbortController()
      const call = peer.call('waitForAbort', [], { signal: controller.signal })
      setTimeout(() => controller.abort(), 50)
      let caller
      try {
        caller = { resolved: await call }
      } catch (error) {
        caller = describeError(error)
      }
      let handler = null
      for (let i = 0; i < 100 && handler === null; i++) {
        handler = await far.lastAbort()
        if (handler === null) await sleep(10)
      }
      return { caller, handler, state: call.state }
    }
    case 'error':
      try {
        return { resolved: await far.fail() }
      } catch (error) {
        return {
          ...describeError(error),
          limit: error.limit,
          whenIsDate: error.when instanceof Date,
          when: error.when instanceof Date ? error.when.getTime() : String(error.when),
        }
      }
    case 'transfer': {
      const buffer = new Uint8Array([1, 2, 3, 100]).buffer
      const call = peer.call('double', [buffer], { transfer: [buffer] })
      const result = await call
      return {
        senderByteLength: buffer.byteLength,
        isArrayBuffer: result.isArrayBuffer,
        back: [...new Uint8Array(result.buffer)],
        backIsArrayBuffer: result.buffer instanceof ArrayBuffer,
      }
    }
    case 'references': {
      const seen = []
      const ran = await far.progress(5, (i) => seen.push(i))
      const counter = await far.counter()
      await counter.add(2)
      const total = await counter.add(3)
      let sum = 0
      let count = 0
      for await (const item of await far.items(10_000)) {
        sum += item
        count++
      }
      release(counter)
      let released
      try {
        await counter.add(1)
      } catch (error) {
        released = error.code
      }
      return { ran, seen, total, count, sum, released }
    }
    case 'kill-mid-call': {
      await far.echo('alive')
      const call = peer.call('hang', [], { timeout: 5000 })
      await sleep(100)
      const killed = performance.now()
      connection.kill()
      try {
        return { resolved: await call }
      } catch (error) {
        return { ...describeError(error), ms: performance.now() - killed, state: peer.state }
      } finally {
        connections.delete(id)
        await peer.close()
      }
    }
    default:
      throw new Error(`unknown scenario ${scenario}`)
  }
}
