/**
 * MessagePortTransport (the standard web interface: addEventListener / postMessage / start) and
 * NodePortTransport (Node's EventEmitter interface) over real MessageChannels, and a real Worker
 * talking over a port it received in workerData.
 *
 * Node 20 has MessageChannel both in node:worker_threads and as a global (the same class today);
 * both are exercised so that a change to either is noticed.
 */
import { expect } from 'chai'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { MessageChannel as WorkerThreadsMessageChannel, type MessagePort as NodeMessagePort, threadId, Worker } from 'node:worker_threads'
import {
  callContext,
  ChannelClosedError,
  type CloseInfo,
  createPeer,
  MessagePortTransport,
  NodePortTransport,
  type Peer,
  RemoteError,
  type Transport,
} from '../lib/index.js'
import type { PortWorkerApi } from './fixtures/port-worker.js'
import { closeTracked, deferred, rejection, track } from './helpers.js'

const PORT_WORKER = fileURLToPath(new URL('./fixtures/port-worker.js', import.meta.url))

let openPorts: NodeMessagePort[] = []

/** A fresh channel whose ports are closed after the test, whatever happens in it. */
function channel(make: () => { port1: NodeMessagePort; port2: NodeMessagePort }) {
  const { port1, port2 } = make()
  openPorts.push(port1, port2)
  return { port1, port2 }
}

/** Leak-checks and closes this test's peers first (as the root hook would), then closes every port. */
async function closePorts(): Promise<void> {
  try {
    await closeTracked()
  } finally {
    // An open port keeps the process alive: close every one, idempotently.
    for (const port of openPorts) port.close()
    openPorts = []
  }
}

const channelKinds: Array<[string, () => { port1: NodeMessagePort; port2: NodeMessagePort }]> = [
  ['node:worker_threads MessageChannel', () => new WorkerThreadsMessageChannel()],
  ['global MessageChannel', () => new globalThis.MessageChannel()],
]

const transportKinds: Array<[string, (port: NodeMessagePort) => Transport]> = [
  ['MessagePortTransport', (port) => new MessagePortTransport(port)],
  ['NodePortTransport', (port) => new NodePortTransport(port)],
]

const rightApi = {
  add: (a: number, b: number) => a + b,
  describe(value: unknown) {
    if (value instanceof Map) return { kind: 'Map', size: value.size }
    if (value instanceof Date) return { kind: 'Date', time: value.getTime() }
    if (value instanceof Uint8Array) return { kind: 'Uint8Array', length: value.length }
    return { kind: typeof value }
  },
  echo: (value: unknown) => value,
  take(buffer: ArrayBuffer) {
    return { byteLength: buffer.byteLength, first: new Uint8Array(buffer)[0], isArrayBuffer: buffer instanceof ArrayBuffer }
  },
  fail() {
    throw new SyntaxError('unexpected token')
  },
}

function hangingApi(started: { resolve: () => void }) {
  return {
    hang() {
      const { signal } = callContext()
      started.resolve()
      return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)))
    },
  }
}

for (const [channelName, makeChannel] of channelKinds) {
  for (const [leftName, makeLeft] of transportKinds) {
    for (const [rightName, makeRight] of transportKinds) {
      describe(`${leftName} ↔ ${rightName} over a ${channelName}`, () => {
        afterEach(closePorts)

        function connect(leftExpose: object = {}, rightExpose: object = rightApi) {
          const { port1, port2 } = channel(makeChannel)
          const left: Peer<any> = track(createPeer(makeLeft(port1), { expose: leftExpose }))
          const right: Peer<any> = track(createPeer(makeRight(port2), { expose: rightExpose }))
          return { port1, port2, left, right }
        }

        it('calls both ways, including a call back while a call is in flight', async () => {
          const leftApi = { twice: (x: number) => x * 2 }
          const { left, right } = connect(leftApi, {
            ...rightApi,
            async viaLeft(x: number) {
              return (await right.remote.twice(x)) + 1
            },
          })
          expect(await left.remote.add(40, 2)).to.equal(42)
          expect(await right.remote.twice(21)).to.equal(42)
          expect(await left.remote.viaLeft(10)).to.equal(21)
          const error = await rejection(left.remote.fail())
          expect(error).to.be.instanceOf(RemoteError)
          expect(error.name).to.equal('SyntaxError')
          expect(error.message).to.equal('unexpected token')
        })

        it('delivers events both ways', async () => {
          const { left, right } = connect()
          await Promise.all([left.ready, right.ready])
          const atRight = new Promise<unknown[]>((resolve) => right.on('progress', (...args) => resolve(args)))
          const atLeft = new Promise<unknown[]>((resolve) => left.on('done', (...args) => resolve(args)))
          left.emit('progress', 1, 2, new Map([['k', 'v']]))
          right.emit('done', 'ok')
          const [a, b, map] = await atRight
          expect([a, b]).to.deep.equal([1, 2])
          expect(map).to.be.instanceOf(Map)
          expect(await atLeft).to.deep.equal(['ok'])
        })

        it('structured-clones what JSON cannot carry (Map, Date, typed arrays, BigInt)', async () => {
          const { left } = connect()
          expect(await left.remote.describe(new Map([[1, 2]]))).to.deep.equal({ kind: 'Map', size: 1 })
          expect(await left.remote.describe(new Date(5))).to.deep.equal({ kind: 'Date', time: 5 })
          expect(await left.remote.describe(new Uint8Array(3))).to.deep.equal({ kind: 'Uint8Array', length: 3 })
          expect(await left.remote.echo(2n ** 70n)).to.equal(2n ** 70n)
        })

        it('transfers an ArrayBuffer: the receiver gets it whole and the sender\'s copy is detached', async () => {
          const { left } = connect()
          // Before the handshake a call is held, and its buffer with it; once open, it goes out at once.
          await left.ready
          const buffer = new Uint8Array([7, 8, 9, 10]).buffer
          const call = left.call('take', [buffer], { transfer: [buffer] })
          expect(buffer.byteLength, 'detached as soon as it is sent').to.equal(0)
          expect(await call).to.deep.equal({ byteLength: 4, first: 7, isArrayBuffer: true })
          // Without a transfer list the buffer is copied and stays usable.
          const kept = new Uint8Array([1, 2]).buffer
          expect(await left.remote.take(kept)).to.deep.equal({ byteLength: 2, first: 1, isArrayBuffer: true })
          expect(kept.byteLength).to.equal(2)
        })

        it('rejects the other side\'s pending calls with ChannelClosedError when one port is closed', async () => {
          const started = deferred()
          const { port2, left, right } = connect({}, hangingApi(started))
          const leftClosed = new Promise<CloseInfo>((resolve) => left.on('close', resolve))
          const call = left.call('hang')
          await started.promise
          // Close the port itself, not the peer: no goodbye message, only the port's own 'close' event.
          port2.close()
          const error = await rejection(call)
          expect(error).to.be.instanceOf(ChannelClosedError)
          expect(error.code).to.equal('RPC_CHANNEL_CLOSED')
          await leftClosed
          expect(left.state).to.equal('closed')
          expect(right.state).to.equal('closed')
          expect(right.stats.active).to.equal(0)
        })

        it('closes the other side when one peer closes, rejecting its pending calls', async () => {
          const started = deferred()
          const { left, right } = connect({}, hangingApi(started))
          const call = left.call('hang')
          await started.promise
          const rightCall = right.call('never.answered')
          const rightClosed = new Promise<CloseInfo>((resolve) => right.on('close', resolve))
          left.close()
          expect(await rejection(call)).to.be.instanceOf(ChannelClosedError)
          expect(await rejection(rightCall)).to.be.instanceOf(ChannelClosedError)
          expect((await rightClosed).local).to.not.equal(true)
        })
      })
    }
  }
}

describe('a real Worker speaking MessagePortTransport over a port passed in workerData', () => {
  let workers: Worker[] = []

  afterEach(async () => {
    await closePorts()
    for (const worker of workers) {
      if (worker.threadId !== -1) {
        const exited = once(worker, 'exit')
        await worker.terminate()
        await exited
      }
    }
    workers = []
  })

  function start(useStandardInterface: boolean) {
    const { port1, port2 } = channel(() => new WorkerThreadsMessageChannel())
    const worker = new Worker(PORT_WORKER, { workerData: { port: port2 }, transferList: [port2] })
    workers.push(worker)
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve))
    const parentApi = { greet: (name: string) => `hello ${name}` }
    const transport = useStandardInterface ? new MessagePortTransport(port1) : new NodePortTransport(port1)
    const peer = track(createPeer<PortWorkerApi>(transport, { expose: parentApi }))
    return { worker, peer, exited }
  }

  for (const useStandardInterface of [true, false]) {
    const parentSide = useStandardInterface ? 'MessagePortTransport' : 'NodePortTransport'

    it(`calls both ways (parent side: ${parentSide})`, async () => {
      const { worker, peer } = start(useStandardInterface)
      const workerThread = await peer.remote.threadId()
      expect(workerThread).to.equal(worker.threadId)
      expect(workerThread).to.not.equal(threadId)
      expect(await peer.remote.add(2, 3)).to.equal(5)
      expect(await peer.remote.askParent('ada')).to.equal('hello ada (from worker)')
      const buffer = new Uint8Array([1, 2, 3, 4]).buffer
      const result = await peer.call('sum', [buffer], { transfer: [buffer] })
      expect(buffer.byteLength).to.equal(0)
      expect(result.sum).to.equal(10)
      expect(result.byteLength).to.equal(4)
      expect([...new Uint8Array(result.echo)]).to.deep.equal([1, 2, 3, 4])
    })
  }

  it('lets the worker exit by itself once the parent closes the peer', async () => {
    const { peer, exited } = start(true)
    expect(await peer.remote.add(1, 1)).to.equal(2)
    peer.close()
    expect(await exited).to.equal(0)
  })

  it('rejects a pending call with ChannelClosedError when the worker is terminated mid-call', async () => {
    const { worker, peer } = start(true)
    const call = peer.call('hang')
    expect(await peer.remote.add(1, 1)).to.equal(2) // the hang call reached the worker first
    const failed = rejection(call)
    await worker.terminate()
    const error = await failed
    expect(error).to.be.instanceOf(ChannelClosedError)
    expect(peer.state).to.equal('closed')
  })
})
