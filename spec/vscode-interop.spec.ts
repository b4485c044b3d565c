/**
 * Interop with vscode-jsonrpc (the JSON-RPC library behind VS Code and LSP) in a real child process,
 * over child-process IPC and over stdio with LSP framing. treerpc runs with `handshake: false`, as it
 * must with a plain JSON-RPC peer that never says `rpc.hello`.
 *
 * The vscode side is spec/fixtures/vscode-peer.ts: its own handlers (math.add, fail, slow...) and
 * `probe.*` requests by which these specs make it call, notify or cancel towards treerpc.
 */
import { expect } from 'chai'
import { type ChildProcess, fork, spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import {
  byName,
  CancelledError,
  callContext,
  createPeer,
  ErrorCode,
  IpcTransport,
  MethodNotFoundError,
  type Peer,
  RemoteError,
  RpcError,
  StreamTransport,
  type Transport,
} from '../lib/index.js'
import { closeTracked, deferred, rejection, track } from './helpers.js'

const VSCODE_PEER = fileURLToPath(new URL('./fixtures/vscode-peer.js', import.meta.url))
const REQUEST_CANCELLED = -32800

interface ProbeOutcome {
  result?: unknown
  error?: { isResponseError: boolean; code: number; message: string; data?: unknown }
}

/** A deferred that resolves with the arguments of the next call to the function it hands out. */
function nextCall<T extends unknown[] = unknown[]>() {
  const { promise, resolve } = deferred<T>()
  return { promise, fn: (...args: T) => resolve(args) }
}

const channels: Array<[string, () => { child: ChildProcess; transport: Transport }]> = [
  [
    'child-process IPC (IPCMessageReader/Writer ↔ IpcTransport)',
    () => {
      const child = fork(VSCODE_PEER, ['ipc'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' })
      return { child, transport: new IpcTransport(child, { serialization: 'json' }) }
    },
  ],
  [
    'stdio (StreamMessageReader/Writer ↔ StreamTransport)',
    () => {
      const child = spawn(process.execPath, [VSCODE_PEER, 'stdio'], { stdio: ['pipe', 'pipe', 'inherit'] })
      return { child, transport: new StreamTransport(child.stdout!, child.stdin!) }
    },
  ],
]

for (const [channelName, open] of channels) {
  describe(`vscode-jsonrpc interop over ${channelName}`, () => {
    let children: ChildProcess[] = []
    /** What the treerpc side exposes; each test adds its own handlers with peer.handle(). */
    let peer: Peer<any>
    let reports: { started: () => void; cancelled: () => void; note: (args: unknown[]) => void }

    async function start(): Promise<Peer<any>> {
      const { child, transport } = open()
      children.push(child)
      const ready = deferred<number>()
      reports = { started: () => {}, cancelled: () => {}, note: () => {} }
      peer = track(createPeer(transport, {
        handshake: false,
        expose: {
          fixture: { ready: (pid: number) => ready.resolve(pid) },
          report: {
            started: () => reports.started(),
            cancelled: () => reports.cancelled(),
            note: (args: unknown[]) => reports.note(args),
          },
        },
      }))
      expect(peer.state, 'open at once: no handshake with a plain JSON-RPC peer').to.equal('open')
      // The fixture says when its connection listens; nothing is sent to it before.
      expect(await ready.promise).to.equal(child.pid)
      return peer
    }

    afterEach(async () => {
      try {
        await closeTracked()
      } finally {
        for (const child of children) {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill('SIGKILL')
            await once(child, 'exit')
          }
        }
        children = []
      }
    })

    it('treerpc calls a vscode request handler, which gets a params array spread into arguments', async () => {
      await start()
      expect(await peer.remote.math.add(2, 40)).to.equal(42)
      expect(await peer.call('inspect.args', [1, 'two', { three: 3 }, [4]])).to.deep.equal({
        args: [1, 'two', { three: 3 }, [4]],
        lastIsToken: true,
      })
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => peer.remote.math.add(i, i)))
      expect(results.every((value, i) => value === 2 * i)).to.equal(true)
    })

    it('sends params by name with byName() to a handler that defines them by name (LSP initialize)', async () => {
      await start()
      const byPosition = await rejection(peer.call('initialize', [{ processId: 7, rootUri: null }]))
      expect(byPosition.code, 'vscode-jsonrpc refuses params by position here').to.equal(ErrorCode.InvalidParams)
      expect(await peer.call('initialize', byName({ processId: 7, rootUri: null }))).to.deep.equal({ got: { processId: 7, rootUri: null } })
    })

    it('sends plain JSON to vscode (a Date as its ISO string), and refuses what JSON would change', async () => {
      await start()
      const when = new Date('2026-01-02T03:04:05.000Z')
      expect(await peer.call('inspect.args', [{ when, gone: undefined }])).to.deep.equal({ args: [{ when: when.toISOString() }], lastIsToken: true })
      for (const [value, pattern] of [[new Map(), /args\[0\]: a Map cannot be sent/], [Number.NaN, /args\[0\]: NaN cannot be sent/], [[undefined], /args\[0\]\[0\]: undefined cannot be sent/]] as const) {
        const error = await rejection(peer.call('inspect.args', [value]))
        expect(error.code).to.equal(ErrorCode.Unsendable)
        expect(error.message).to.match(pattern)
      }
    })

    it('hands params by name from vscode to the treerpc handler as its one argument', async () => {
      await start()
      peer.handle('named', (params: unknown) => ({ params }))
      const outcome: ProbeOutcome = await peer.call('probe.requestByName', ['named', { a: 1, b: [2] }])
      expect(outcome).to.deep.equal({ result: { params: { a: 1, b: [2] } } })
    })

    it('delivers $/progress from vscode to a handler registered for it', async () => {
      await start()
      const seen = nextCall<[unknown]>()
      peer.handle('$/progress', seen.fn)
      await peer.call('probe.notify', ['$/progress', [{ token: 'tok', value: { kind: 'report', percentage: 40 } }]])
      expect(await seen.promise).to.deep.equal([{ token: 'tok', value: { kind: 'report', percentage: 40 } }])
    })

    it('vscode calls a treerpc handler with sendRequest(method, ...args)', async () => {
      await start()
      const seen = nextCall<[number, number]>()
      peer.handle('a.b', (x: number, y: number) => {
        seen.fn(x, y)
        return { sum: x + y, path: callContext().path }
      })
      const outcome: ProbeOutcome = await peer.call('probe.request', ['a.b', [1, 2]])
      expect(outcome).to.deep.equal({ result: { sum: 3, path: 'a.b' } })
      expect(await seen.promise).to.deep.equal([1, 2])
      // No params at all arrives as no arguments; an async handler is awaited.
      peer.handle('a.none', async (...args: unknown[]) => args.length)
      expect(await peer.call('probe.request', ['a.none', []])).to.deep.equal({ result: 0 })
    })

    it('carries notifications both ways', async () => {
      await start()
      // treerpc → vscode: the fixture echoes what it received as report.note.
      const echoed = nextCall<[unknown[]]>()
      reports.note = echoed.fn
      peer.notify('note.fromTreerpc', 5, 'x', { y: true })
      expect(await echoed.promise).to.deep.equal([[5, 'x', { y: true }]])
      // vscode → treerpc: sendNotification(method, ...args) runs the treerpc handler, with no reply.
      const received = nextCall<[number, string]>()
      peer.handle('note.fromVscode', received.fn)
      expect(await peer.call('probe.notify', ['note.fromVscode', [1, 'two']])).to.equal(true)
      expect(await received.promise).to.deep.equal([1, 'two'])
    })

    it('turns a vscode ResponseError into a RemoteError with its message and data', async () => {
      await start()
      const error = await rejection(peer.remote.fail())
      expect(error).to.be.instanceOf(RemoteError)
      expect(error.message).to.equal('nope')
      expect(error.data).to.deep.equal({ x: 1 })
      expect(error.code).to.equal(ErrorCode.Remote)
      // A plain Error thrown in vscode becomes its InternalError reply.
      const crash = await rejection(peer.remote.crash())
      expect(crash).to.be.instanceOf(RemoteError)
      expect(crash.code).to.equal(ErrorCode.Internal)
      expect(crash.message).to.contain('plain failure')
      // A method vscode has no handler for.
      const missing = await rejection(peer.remote.not.there())
      expect(missing).to.be.instanceOf(MethodNotFoundError)
      expect(missing.path).to.equal('not.there')
      // The channel is still fine.
      expect(await peer.remote.math.add(1, 1)).to.equal(2)
    })

    it('turns an error thrown by a treerpc handler into a vscode ResponseError with its message', async () => {
      await start()
      peer.handle('boom', () => {
        throw Object.assign(new TypeError('kaput'), { code: 'E_KAPUT' })
      })
      const outcome: ProbeOutcome = await peer.call('probe.request', ['boom', []])
      expect(outcome.error).to.include({ isResponseError: true, message: 'kaput', code: -32000 })
      expect(outcome.error!.data).to.include({ name: 'TypeError', message: 'kaput', code: 'E_KAPUT' })
      const missing: ProbeOutcome = await peer.call('probe.request', ['no.handler', []])
      expect(missing.error).to.include({ isResponseError: true, code: -32601 })
    })

    it('cancels a slow vscode request when treerpc cancels the call: the vscode CancellationToken fires', async () => {
      await start()
      const started = nextCall()
      const cancelled = nextCall()
      reports.started = started.fn
      reports.cancelled = cancelled.fn
      const call = peer.call('slow')
      await started.promise
      call.cancel()
      const error = await rejection(call)
      expect(error).to.be.instanceOf(CancelledError)
      expect(error.code).to.equal(ErrorCode.Cancelled)
      await cancelled.promise // the vscode handler saw its token fire
      expect(call.state).to.equal('cancelled')
      // The late RequestCancelled reply is ignored; the channel goes on.
      expect(await peer.remote.math.add(2, 2)).to.equal(4)
    })

    it('cancels a treerpc call when vscode cancels with a CancellationTokenSource: the signal aborts and vscode gets RequestCancelled', async () => {
      await start()
      const aborted = deferred<unknown>()
      peer.handle('slow.treerpc', () => {
        const { signal } = callContext()
        return new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            aborted.resolve(signal.reason)
            reject(signal.reason)
          })
          peer.notify('control.cancel') // now that the handler runs, tell vscode to cancel it
        })
      })
      const outcome: ProbeOutcome = await peer.call('probe.cancellable', ['slow.treerpc'])
      const reason = await aborted.promise
      expect(reason).to.be.instanceOf(RpcError)
      expect((reason as RpcError).code).to.equal(ErrorCode.Cancelled)
      expect(outcome.error).to.include({ isResponseError: true, code: REQUEST_CANCELLED })
      expect(peer.stats.active).to.equal(0)
    })

    it('answers RequestCancelled, not the stale result, when a cancelled treerpc handler still returns a value', async () => {
      await start()
      peer.handle('slow.stubborn', async () => {
        const { signal } = callContext()
        const aborted = new Promise((resolve) => signal.addEventListener('abort', resolve))
        peer.notify('control.cancel')
        await aborted
        return 'stale result'
      })
      const outcome: ProbeOutcome = await peer.call('probe.cancellable', ['slow.stubborn'])
      expect(outcome.result).to.equal(undefined)
      expect(outcome.error).to.include({ isResponseError: true, code: REQUEST_CANCELLED })
    })
  })
}
