/**
 * Fidelity at the edges (issue 8): whatever a handler returns or throws, its slot is freed and the
 * caller answered at once; errors cross with their fields as the channel carries them; nothing a peer
 * sends makes a reply or an event grow with it; the proxy behaves as a function.
 */
import { expect } from 'chai'
import { PassThrough } from 'node:stream'
import {
  byName,
  createMemoryPair,
  createPeer,
  ErrorCode,
  MethodNotFoundError,
  type NonBlockingPeer,
  RemoteError,
  RpcError,
  spawnChild,
  spawnWorker,
  StreamTransport,
  transfer,
  type Transport,
  WireCode,
} from '../lib/index.js'
import { outcomes } from './fixtures/outcomes-api.js'
import { pair, rejection, tick, ticks, track } from './helpers.js'

const OUTCOMES = new URL('./fixtures/outcomes.js', import.meta.url)
const ECHO = new URL('./fixtures/echo.js', import.meta.url)

type Started = { peer: NonBlockingPeer<any>; stop: () => Promise<unknown> }

const channels: Array<{ name: string; start: () => Started }> = [
  {
    name: 'memory pair',
    start: () => {
      const [a, b] = createMemoryPair()
      const server = createPeer(b, { expose: outcomes, concurrency: 1 })
      const peer = createPeer(a)
      return { peer, stop: async () => (peer.close(), server.close()) }
    },
  },
  {
    name: 'byte stream (JSON)',
    start: () => {
      const [up, down] = [new PassThrough(), new PassThrough()]
      const server = createPeer(new StreamTransport(up, down), { expose: outcomes, concurrency: 1 })
      const peer = createPeer(new StreamTransport(down, up))
      return { peer, stop: async () => (peer.close(), server.close()) }
    },
  },
  {
    name: 'worker thread',
    start: () => {
      const handle = spawnWorker(OUTCOMES)
      return { peer: handle.peer, stop: () => handle.close() }
    },
  },
  {
    name: 'child process, json',
    start: () => {
      const handle = spawnChild(OUTCOMES)
      return { peer: handle.peer, stop: () => handle.close() }
    },
  },
]

describe('fidelity at the edges', () => {
  for (const channel of channels) {
    describe(`over a ${channel.name}, with a handler pool of concurrency 1`, () => {
      let peer: NonBlockingPeer<any>
      let stop: () => Promise<unknown>
      before(async function () {
        this.timeout(20_000)
        ;({ peer, stop } = channel.start())
        await peer.ready
      })
      after(async () => {
        await stop()
      })

      for (const path of ['revokedProxy', 'throwRevokedProxy', 'thenGetterThrows', 'trapsThrow', 'nullProtoWithSymbol', 'returnsSymbol']) {
        it(`answers ${path} at once with a coded error, and frees the slot`, async () => {
          const error = await rejection(peer.call(path, [], { timeout: 5000 }))
          expect(error).to.be.instanceOf(RpcError)
          expect([ErrorCode.Unsendable, ErrorCode.Remote]).to.include(error.code)
          expect(error.message).to.be.a('string').and.not.equal('')
          // With one slot, a leaked one would make this wait for its timeout.
          expect(await peer.call('fine', [], { timeout: 5000 })).to.equal('fine')
        })
      }

      it('names where an unsendable result sits', async () => {
        const error = await rejection(peer.call('returnsSymbol'))
        expect(error.code).to.equal(ErrorCode.Unsendable)
        expect(error.message).to.contain('result.s: a symbol cannot be sent')
      })

      it('carries error fields as the channel carries values (a Date stays a Date, a BigInt a BigInt)', async () => {
        const error = await rejection(peer.call('throwRich'))
        expect(error).to.be.instanceOf(RemoteError)
        expect(error.message).to.equal('rich')
        expect(error.when).to.be.instanceOf(Date)
        expect(error.when.getTime()).to.equal(1234)
        expect(error.big).to.equal(5n)
        expect(error.bytes).to.be.instanceOf(Uint8Array)
        expect([...error.bytes]).to.deep.equal([104, 105])
        expect(error.map).to.be.instanceOf(Map)
        expect(error.map.get('k')).to.equal(1)
      })

      it('drops only the unsendable field of an error: name, code and the other fields cross', async () => {
        const error = await rejection(peer.call('throwWithSymbolField'))
        expect(error).to.be.instanceOf(RemoteError)
        expect(error.name).to.equal('RangeError')
        expect(error.code).to.equal('E')
        expect(error.kept).to.equal('yes')
        expect(error).not.to.have.property('b')
      })

      it('keeps a numeric remote code a number (RemoteError.code is string | number)', async () => {
        const error = await rejection(peer.call('throwNumericCode'))
        expect(error.code).to.equal(404)
      })
    })
  }

  describe('a hostile or careless peer', () => {
    function rawPeer(options = {}) {
      let deliver: (message: unknown) => void = () => {}
      const sent: any[] = []
      const transport: Transport = {
        send: (message) => void sent.push(structuredClone(message)),
        onMessage: (listener) => void (deliver = listener),
        onClose: () => {},
        close: () => {},
      }
      const peer = track(createPeer(transport, options))
      deliver({ jsonrpc: '2.0', method: 'rpc.hello', params: { v: 1, peer: 'raw', ack: true } })
      return { peer, deliver: (message: unknown) => deliver(message), sent }
    }

    it('never lets a revived error field shadow an Object.prototype member', async () => {
      const { peer, deliver } = rawPeer()
      const call = peer.call('x')
      const failure = rejection(call)
      const data = { name: 'E', message: 'm', code: 'C', hasOwnProperty: 1, isPrototypeOf: 2, __defineGetter__: 3, toLocaleString: 4, constructor: 5, custom: 6 }
      deliver({ jsonrpc: '2.0', id: call.id, error: { code: WireCode.HandlerError, message: 'm', data } })
      const error = await failure
      expect(error.hasOwnProperty('code')).to.equal(true)
      for (const key of ['hasOwnProperty', 'isPrototypeOf', '__defineGetter__', 'toLocaleString', 'constructor']) {
        expect(Object.hasOwn(error, key), key).to.equal(false)
      }
      expect(error.custom).to.equal(6)
    })

    it('bounds every reply and event that echoes peer input (a 1 MB method name)', async () => {
      const { peer, deliver, sent } = rawPeer({ expose: { known: () => 1 } })
      const errors: any[] = []
      peer.on('error', (error) => errors.push(error))
      const huge = 'm'.repeat(1 << 20)
      deliver({ jsonrpc: '2.0', id: 1, method: huge, params: 5 })
      deliver({ jsonrpc: '2.0', id: 2, method: huge, params: [] })
      deliver({ jsonrpc: '2.0', id: 3, method: `known.${huge}`, params: [] })
      deliver({ jsonrpc: '2.0', method: huge, params: [] })
      await ticks(2)
      const replies = sent.filter((m) => 'id' in m && 'error' in m)
      expect(replies.map((m) => m.error.code)).to.deep.equal([WireCode.InvalidParams, WireCode.MethodNotFound, WireCode.MethodNotFound])
      for (const reply of replies) expect(JSON.stringify(reply).length).to.be.lessThan(1000)
      expect(errors).to.have.length(1)
      expect(errors[0]).to.be.instanceOf(MethodNotFoundError)
      expect(errors[0].message.length).to.be.lessThan(1000)
      expect(errors[0].path.length).to.be.lessThan(1000)
    })

    it('delivers $/ notifications to a handler registered for them, and drops others quietly', async () => {
      const { peer, deliver } = rawPeer()
      const errors: unknown[] = []
      peer.on('error', (error) => errors.push(error))
      const seen: unknown[] = []
      peer.handle('$/progress', (params: unknown) => void seen.push(params))
      deliver({ jsonrpc: '2.0', method: '$/progress', params: { token: 't', value: { kind: 'report', percentage: 50 } } })
      deliver({ jsonrpc: '2.0', method: '$/setTrace', params: { value: 'off' } })
      await tick()
      expect(seen).to.deep.equal([{ token: 't', value: { kind: 'report', percentage: 50 } }])
      expect(errors).to.deep.equal([])
    })

    it('sends params by name with byName(), and hands by-name params to the handler as one object', async () => {
      const { peer, sent } = rawPeer()
      void peer.call('initialize', byName({ processId: 1, rootUri: null })).catch(() => {})
      peer.notify('initialized', byName({}))
      void peer.remote.workspace.symbol(byName({ query: 'x' })).catch(() => {})
      await tick()
      const requests = sent.filter((m) => typeof m.method === 'string' && !m.method.startsWith('rpc.'))
      expect(requests.map((m) => [m.method, m.params])).to.deep.equal([
        ['initialize', { processId: 1, rootUri: null }],
        ['initialized', {}],
        ['workspace.symbol', { query: 'x' }],
      ])
      peer.close()

      const { left, right } = pair()
      right.handle('named', (params: unknown) => params)
      expect(await left.call('named', byName({ a: 1 }))).to.deep.equal({ a: 1 })
    })
  })

  describe('the proxy and paths', () => {
    it('behaves as a function for call, apply and bind', async () => {
      const { left } = pair({}, { expose: { math: { add: (a: number, b: number) => a + b } } })
      const add = left.remote.math.add
      expect(await add.call(null, 1, 2)).to.equal(3)
      expect(await add.apply(null, [3, 4])).to.equal(7)
      expect(await add.bind(null, 10)(5)).to.equal(15)
    })

    it('never hands a path inside a handler (svc.hello.call) to the fallback', async () => {
      const { left, right } = pair()
      const seen: string[] = []
      right.handle('svc.hello', () => 'hi')
      right.fallback((path) => {
        seen.push(path)
        return 'fallback'
      })
      for (const path of ['svc.hello.call', 'svc.hello.apply', 'svc.hello.bind', 'svc.hello.x.y']) {
        expect(await rejection(left.call(path)), path).to.be.instanceOf(MethodNotFoundError)
      }
      expect(await left.call('svc.other')).to.equal('fallback')
      expect(seen).to.deep.equal(['svc.other'])
    })

    it('exposes the other methods of an object that has a then function (never then itself)', async () => {
      const { left } = pair({}, { expose: { job: { then: () => 'never', status: () => 'running' } } })
      expect(await left.remote.job.status()).to.equal('running')
      expect(await rejection(left.call('job.then'))).to.be.instanceOf(MethodNotFoundError)
    })

    it('rejects (never throws) a call whose args or path are not what they must be, naming them', async () => {
      const { left } = pair()
      const bad = left.call('x', 1 as never)
      const error = await rejection(bad)
      expect(error.code).to.equal(ErrorCode.InvalidArgument)
      expect(error.message).to.match(/^args must be an array.*got a number 1/)
      const badPath = await rejection(left.call(5 as never))
      expect(badPath.message).to.match(/^path must be a string, got a number 5/)
      const badTimeout = await rejection(left.call('x', [], { timeout: '100' as never }))
      expect(badTimeout.message).to.match(/options\.timeout must be .*got a string "100"/)
      expect(left.stats.pending).to.equal(0)
    })

    it('throws from notify and emit at once, naming where an unsendable argument sits', () => {
      const { left } = pair()
      expect(() => left.notify('x', { cache: new WeakMap() })).to.throw(RpcError, /args\[0\]\.cache: a WeakMap cannot be sent/)
      expect(() => left.emit('x', 1, Symbol('s'))).to.throw(RpcError, /args\[1\]: a symbol cannot be sent/)
    })
  })

  describe('transfer() marks at any depth', () => {
    it('moves a marked buffer nested inside an argument over a worker', async () => {
      const handle = spawnWorker(ECHO)
      try {
        const bytes = Uint8Array.of(1, 2, 3)
        const back = await handle.peer.call('echo', [{ nested: { data: transfer(bytes, [bytes.buffer]) } }])
        expect(bytes.buffer.byteLength, 'the sender copy is detached').to.equal(0)
        expect([...back.nested.data]).to.deep.equal([1, 2, 3])
      } finally {
        await handle.close()
      }
    })
  })
})
