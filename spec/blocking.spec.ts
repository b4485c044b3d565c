/**
 * Blocking calls (peer.callSync, peer.remoteSync, handle.remoteSync) over real worker threads, both
 * ways, with the spec/fixtures/sync-worker fixture; and the immediate RPC_UNSUPPORTED error on
 * channels that cannot block (a child process, a standard web MessagePort).
 */
import { expect } from 'chai'
import { MessageChannel, type MessagePort as NodeMessagePort } from 'node:worker_threads'
import {
  callContext,
  ChannelClosedError,
  type ChildHandle,
  createPeer,
  MessagePortTransport,
  type Peer,
  RemoteError,
  RpcError,
  spawnChild,
  spawnWorker,
  type SpawnWorkerOptions,
  type StandardMessagePort,
  TimeoutError,
  type WorkerHandle,
} from '../lib/index.js'
import type { SyncWorkerApi } from './fixtures/sync-worker.js'
import { closeTracked, track } from './helpers.js'

const SYNC_WORKER = new URL('./fixtures/sync-worker.js', import.meta.url)

/** Calls `fn` and returns what it threw synchronously; fails if it returned. */
function thrown(fn: () => unknown): any {
  try {
    fn()
  } catch (error) {
    return error
  }
  throw new Error('expected a synchronous throw')
}

/** What the main thread exposes to the worker (which calls it with blocking calls). */
const parentApi = {
  math: { double: (n: number) => n * 2 },
  fail: () => {
    throw new TypeError('parent refuses')
  },
  /** Never answers by itself; ends when the caller cancels (its signal aborts). */
  hang: () => {
    const { signal } = callContext()
    return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))
  },
}

describe('blocking calls (callSync, remoteSync)', () => {
  let workers: WorkerHandle<any>[] = []
  let children: ChildHandle<any>[] = []
  let ports: NodeMessagePort[] = []

  function startWorker(options: SpawnWorkerOptions = {}): WorkerHandle<SyncWorkerApi> {
    const handle = spawnWorker<SyncWorkerApi>(SYNC_WORKER, { expose: parentApi, ...options })
    workers.push(handle)
    return handle
  }

  afterEach(async () => {
    const running = workers
    const forked = children
    workers = []
    children = []
    try {
      await closeTracked()
    } finally {
      for (const port of ports) port.close()
      ports = []
      await Promise.all([...running.map((handle) => handle.kill()), ...forked.map((handle) => handle.kill('SIGKILL'))])
    }
  })

  describe('main thread → worker', () => {
    it('returns values through handle.remoteSync at any depth, and through peer.callSync', async () => {
      const worker = startWorker()
      await worker.ready
      const sum: number = worker.remoteSync.math.add(2, 3)
      expect(sum).to.equal(5)
      expect(worker.remoteSync.math.vector.norm([3, 4])).to.equal(5)
      expect(worker.peer.remoteSync.math.add(20, 22)).to.equal(42)
      expect(worker.peer.callSync<number>('math.add', [1, 1], { timeout: 5000 })).to.equal(2)
      expect(worker.remoteSync.threadId()).to.equal(worker.worker.threadId)
      // Blocking and ordinary calls share the channel.
      expect(await worker.remote.math.add(4, 4)).to.equal(8)
      expect(worker.peer.stats.pending).to.equal(0)
    })

    it('throws the remote error as RemoteError with its name, message and code', async () => {
      const worker = startWorker()
      await worker.ready
      const error = thrown(() => worker.remoteSync.fail())
      expect(error).to.be.instanceOf(RemoteError)
      expect(error.name).to.equal('QuotaError')
      expect(error.remoteName).to.equal('QuotaError')
      expect(error.message).to.equal('quota exceeded')
      expect(error.code).to.equal('E_QUOTA')
      const viaCall = thrown(() => worker.peer.callSync('fail', [], { timeout: 5000 }))
      expect(viaCall).to.be.instanceOf(RemoteError)
      expect(viaCall.message).to.equal('quota exceeded')
      // The channel is fine afterwards.
      expect(worker.remoteSync.math.add(1, 2)).to.equal(3)
    })

    it('throws TimeoutError after the timeout; the next blocking call gets its own result, not the late reply', async () => {
      const worker = startWorker()
      await worker.ready
      // The worker blocks itself longer than the caller waits, then replies 'LATE'.
      const error = thrown(() => worker.peer.callSync('sleepSync', [400, 'LATE'], { timeout: 50 }))
      expect(error).to.be.instanceOf(TimeoutError)
      expect(error.code).to.equal('RPC_TIMEOUT')
      expect(error.timeout).to.equal(50)
      expect(error.path).to.equal('sleepSync')
      // This call is answered after the late reply was posted: it must get its own value.
      expect(worker.peer.callSync('sleepSync', [0, 'OWN'], { timeout: 5000 })).to.equal('OWN')
      expect(worker.remoteSync.math.add(1, 2)).to.equal(3)
      expect(await worker.remote.math.add(2, 2)).to.equal(4)
      expect(await worker.remote.sleepSync(0, 'async')).to.equal('async')
    })

    it('discards a late reply that arrives while the next blocking call is still waiting', async () => {
      const worker = startWorker()
      await worker.ready
      expect(thrown(() => worker.peer.callSync('sleepSync', [300, 'LATE 1'], { timeout: 50 }))).to.be.instanceOf(TimeoutError)
      expect(thrown(() => worker.peer.callSync('sleepSync', [300, 'LATE 2'], { timeout: 50 }))).to.be.instanceOf(TimeoutError)
      // Two late replies are on their way or already queued; neither is this call's.
      expect(worker.peer.callSync('sleepSync', [50, 'THIRD'], { timeout: 10_000 })).to.equal('THIRD')
      expect(worker.peer.callSync('math.add', [5, 5], { timeout: 10_000 })).to.equal(10)
    })

    it('throws RpcError RPC_UNSENDABLE, not a raw DataCloneError, for arguments that cannot be cloned', async () => {
      const worker = startWorker()
      await worker.ready
      const error = thrown(() => worker.peer.callSync('math.add', [() => 1, 2]))
      expect(error).to.be.instanceOf(RpcError)
      expect((error as RpcError).code).to.equal('RPC_UNSENDABLE')
      expect(worker.peer.callSync('math.add', [1, 2])).to.equal(3)
    })

    it("waits at most the peer's timeout by default", async () => {
      const worker = startWorker({ timeout: 100 })
      await worker.ready
      const error = thrown(() => worker.remoteSync.sleepSync(400, 'LATE'))
      expect(error).to.be.instanceOf(TimeoutError)
      expect(error.timeout).to.equal(100)
      // The worker is still asleep in the first call: give this one room to wait for it.
      expect(worker.peer.callSync('sleepSync', [0, 'OWN'], { timeout: 10_000 })).to.equal('OWN')
    })

    it('works before the handshake completes (called right after spawnWorker)', async () => {
      const worker = startWorker()
      expect(worker.peer.state).to.equal('connecting')
      expect(worker.peer.callSync('math.add', [40, 2], { timeout: 10_000 })).to.equal(42)
      await worker.ready
      expect(await worker.remote.math.add(1, 1)).to.equal(2)
      expect(worker.remoteSync.math.add(2, 1)).to.equal(3)
    })

    it('throws ChannelClosedError after close, at once', async () => {
      const worker = startWorker()
      await worker.ready
      expect(worker.remoteSync.math.add(1, 1)).to.equal(2)
      worker.peer.close()
      const error = thrown(() => worker.peer.callSync('math.add', [1, 1]))
      expect(error).to.be.instanceOf(ChannelClosedError)
      expect(error.code).to.equal('RPC_CHANNEL_CLOSED')
      expect(thrown(() => worker.remoteSync.math.add(1, 1))).to.be.instanceOf(ChannelClosedError)
      await worker.close()
      expect(thrown(() => worker.remoteSync.math.add(1, 1))).to.be.instanceOf(ChannelClosedError)
    })

    it('throws ChannelClosedError once the worker has exited', async () => {
      const worker = startWorker()
      await worker.ready
      await worker.kill()
      expect(thrown(() => worker.remoteSync.math.add(1, 1))).to.be.instanceOf(ChannelClosedError)
    })
  })

  describe('worker → main thread', () => {
    it('blocks in a worker handler until the main thread answers, and returns what it got', async () => {
      const worker = startWorker()
      expect(await worker.remote.viaParentSync(21)).to.equal(42)
      const many = await Promise.all(Array.from({ length: 20 }, (_, i) => worker.remote.viaParentSync(i)))
      expect(many).to.deep.equal(Array.from({ length: 20 }, (_, i) => 2 * i))
    })

    it("throws the main thread's error in the worker as RemoteError", async () => {
      const worker = startWorker()
      const seen = await worker.remote.parentErrorSync()
      expect(seen).to.include({ remote: true, name: 'TypeError', message: 'parent refuses' })
    })

    it('throws TimeoutError in the worker when the main thread does not answer in time, and cancels the handler', async () => {
      const worker = startWorker()
      const seen = await worker.remote.parentTimeoutSync(100)
      expect(seen).to.include({ timeout: true, code: 'RPC_TIMEOUT' })
      // The channel still works both ways afterwards.
      expect(await worker.remote.viaParentSync(5)).to.equal(10)
      expect(worker.remoteSync.math.add(1, 2)).to.equal(3)
    })
  })

  describe('channels that cannot block', () => {
    it('throws RpcError RPC_UNSUPPORTED at once on a child process channel', async () => {
      const child = spawnChild<SyncWorkerApi>(SYNC_WORKER, { expose: parentApi })
      children.push(child)
      // ChildHandle.peer has no callSync or remoteSync in its type; the cast reaches the run-time refusal.
      const peer = child.peer as Peer<SyncWorkerApi>
      // Before the handshake, and after it: the answer does not depend on timing.
      const early = thrown(() => peer.callSync('math.add', [1, 2], { timeout: 1000 }))
      expect(early).to.be.instanceOf(RpcError)
      expect(early.code).to.equal('RPC_UNSUPPORTED')
      expect(early.message).to.match(/block/)
      await child.ready
      const viaProxy = thrown(() => peer.remoteSync.math.add(1, 2))
      expect(viaProxy).to.be.instanceOf(RpcError)
      expect(viaProxy.code).to.equal('RPC_UNSUPPORTED')
      // The channel is untouched.
      expect(await child.remote.math.add(1, 2)).to.equal(3)
    })

    it('throws RpcError RPC_UNSUPPORTED at once on a standard MessagePort (MessagePortTransport)', async () => {
      const { port1, port2 } = new MessageChannel()
      ports.push(port1, port2)
      const left = track(createPeer<{ math: { add(a: number, b: number): number } }>(new MessagePortTransport(port1 as unknown as StandardMessagePort)))
      track(createPeer(new MessagePortTransport(port2 as unknown as StandardMessagePort), { expose: { math: { add: (a: number, b: number) => a + b } } }))
      const error = thrown(() => left.callSync('math.add', [1, 2], { timeout: 1000 }))
      expect(error).to.be.instanceOf(RpcError)
      expect(error.code).to.equal('RPC_UNSUPPORTED')
      expect(thrown(() => left.remoteSync.math.add(1, 2)).code).to.equal('RPC_UNSUPPORTED')
      await left.ready
      expect(await left.remote.math.add(1, 2)).to.equal(3)
    })
  })
})
