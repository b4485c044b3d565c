import { expect } from 'chai'
import sinon from 'sinon'
import {
  BusyError,
  CancelledError,
  ChannelClosedError,
  createMemoryPair,
  createPeer,
  ErrorCode,
  MethodNotFoundError,
  RemoteError,
  RpcError,
  TimeoutError,
} from '../lib/index.js'
import { pair, rejection, tick, track } from './helpers.js'

function richError(): TypeError {
  const root = new Error('root cause')
  const middle = new Error('middle cause', { cause: root })
  const error = new TypeError('bad type', { cause: middle }) as TypeError & { code: string; details: unknown; count: number }
  error.code = 'E_BAD_TYPE'
  error.details = { nested: { deep: [1, 2, { x: 'y' }] }, flag: true }
  error.count = 3
  return error
}

/** A peer over one end of a memory pair that talks to a hand-driven raw end. */
function rawCounterpart() {
  const [a, b] = createMemoryPair()
  const requests: any[] = []
  b.onMessage((message) => requests.push(message))
  const left = track(createPeer(a, { handshake: false }))
  return { left, raw: b, requests }
}

describe('errors', () => {
  describe('thrown by a handler', () => {
    for (const mode of ['throws', 'rejects'] as const) {
      it(`arrive with class name, message, stack, code, cause chain and custom fields when the handler ${mode}`, async () => {
        let thrown!: TypeError
        const { left } = pair({}, {
          expose: {
            fail: mode === 'throws'
              ? () => {
                  thrown = richError()
                  throw thrown
                }
              : async () => {
                  await null
                  thrown = richError()
                  throw thrown
                },
          },
        })
        const error = await rejection(left.call('fail'))
        expect(error).to.be.instanceOf(RemoteError)
        expect(error).to.be.instanceOf(RpcError)
        expect(error).to.be.instanceOf(Error)
        expect(error.name).to.equal('TypeError')
        expect(error.remoteName).to.equal('TypeError')
        expect(error.message).to.equal('bad type')
        expect(error.stack).to.be.a('string')
        expect(error.stack).to.equal(thrown.stack)
        expect(error.code).to.equal('E_BAD_TYPE')
        expect(error.details).to.deep.equal({ nested: { deep: [1, 2, { x: 'y' }] }, flag: true })
        expect(error.count).to.equal(3)
        expect(error.cause).to.be.instanceOf(Error)
        expect(error.cause.message).to.equal('middle cause')
        expect(error.cause.cause).to.be.instanceOf(Error)
        expect(error.cause.cause.message).to.equal('root cause')
        expect(error.cause.cause.cause).to.equal(undefined)
      })
    }

    it('keep the remote code of a treerpc error thrown by a handler', async () => {
      const { left } = pair({}, { expose: { busy: () => { throw new BusyError('remote busy') } } })
      const error = await rejection(left.call('busy'))
      expect(error).to.be.instanceOf(RpcError)
      expect(error.code).to.equal('RPC_BUSY')
      expect(error.name).to.equal('BusyError')
      expect(error.message).to.equal('remote busy')
    })

    it('get the generic RPC_REMOTE_ERROR code when the remote error has none', async () => {
      const { left } = pair({}, { expose: { fail: () => { throw new RangeError('out of range') } } })
      const error = await rejection(left.call('fail'))
      expect(error).to.be.instanceOf(RemoteError)
      expect(error.code).to.equal(ErrorCode.Remote)
      expect(error.name).to.equal('RangeError')
    })

    const values: Array<[string, () => unknown, (error: any) => void]> = [
      ['a string', () => 'plain string', (e) => expect(e.message).to.contain('plain string')],
      ['undefined', () => undefined, (e) => expect(e.message).to.contain('undefined')],
      ['null', () => null, (e) => expect(e.message).to.contain('null')],
      ['a plain object with a message and code', () => ({ message: 'x', code: 'E' }), (e) => {
        expect(e.message).to.equal('x')
        expect(e.code).to.equal('E')
      }],
      ['a plain object without a message', () => ({ reason: 42 }), (e) => expect(e.message).to.match(/\w/)],
      ['a circular object', () => {
        const circular: Record<string, unknown> = { message: 'circular' }
        circular.self = circular
        return circular
      }, (e) => expect(e.message).to.equal('circular')],
      ['a circular object without a message', () => {
        const circular: Record<string, unknown> = { a: 1 }
        circular.self = { back: circular }
        return circular
      }, (e) => expect(e.message).to.match(/\w/)],
      ['a BigInt', () => 10n, (e) => expect(e.message).to.contain('10')],
      ['a number', () => 404, (e) => expect(e.message).to.contain('404')],
      ['an error carrying an unsendable field', () => Object.assign(new Error('with fields'), { callback: () => 1, sym: Symbol('s') }), (e) => expect(e.message).to.contain('with fields')],
    ]
    for (const [what, make, check] of values) {
      it(`arrive as an Error with a sensible message when the handler throws ${what}`, async () => {
        const { left } = pair({}, {
          expose: {
            sync: () => {
              throw make()
            },
            async: () => Promise.reject(make()),
          },
        })
        for (const path of ['sync', 'async']) {
          const error = await rejection(left.call(path))
          expect(error, path).to.be.instanceOf(Error)
          expect(error, path).to.be.instanceOf(RpcError)
          expect(error.message, path).to.be.a('string').and.not.to.equal('')
          expect(error.message, path).not.to.match(/^\{\}$|\[object Object\]/)
          check(error)
        }
      })
    }

    it('bound a 10,000-deep cause chain', async () => {
      const { left } = pair({}, {
        expose: {
          deep: () => {
            let error = new Error('cause 0')
            for (let i = 1; i < 10_000; i++) error = new Error(`cause ${i}`, { cause: error })
            throw error
          },
        },
      })
      const error = await rejection(left.call('deep'))
      expect(error).to.be.instanceOf(RemoteError)
      expect(error.message).to.equal('cause 9999')
      let depth = 0
      for (let cause = error.cause; cause !== undefined && depth < 100; cause = cause?.cause) depth++
      expect(depth).to.be.greaterThan(0).and.lessThan(100)
    })
  })

  describe('unsendable values', () => {
    for (const [what, value, name] of [
      ['a WeakMap', new WeakMap(), /a WeakMap cannot be sent/],
      ['a Symbol', Symbol('s'), /symbol/i],
    ] as const) {
      it(`reject promptly with RPC_UNSENDABLE naming the type when the handler returns ${what}`, async () => {
        const { left, right } = pair({}, { expose: { give: () => value } })
        const error = await rejection(left.call('give'))
        expect(error).to.be.instanceOf(RpcError)
        expect(error.code).to.equal(ErrorCode.Unsendable)
        expect(error.code).to.equal('RPC_UNSENDABLE')
        expect(error.message).to.match(name)
        expect(error.message).to.contain('give')
        await tick()
        expect(right.stats.active).to.equal(0)
      })
    }

    it('reject the returned promise, never throw, when an argument is unsendable, leaving no entry or timer', async () => {
      const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
      try {
        const { left } = pair({ timeout: 1000 }, { expose: { echo: (x: unknown) => x } })
        await left.ready
        let call!: ReturnType<typeof left.call>
        let viaProxy!: Promise<unknown>
        expect(() => {
          call = left.call('echo', [new WeakMap()])
          viaProxy = left.remote.echo(Symbol('s'))
        }).not.to.throw()
        const [first, second] = await Promise.all([rejection(call), rejection(viaProxy)])
        for (const error of [first, second]) {
          expect(error).to.be.instanceOf(RpcError)
          expect(error.code).to.equal('RPC_UNSENDABLE')
          expect(error.message).to.contain('echo')
        }
        expect(call.state).to.equal('rejected')
        expect(left.stats.pending).to.equal(0)
        expect(clock.countTimers()).to.equal(0)
        // The channel is unaffected.
        expect(await left.call('echo', [5])).to.equal(5)
      } finally {
        clock.restore()
      }
    })
  })

  describe('classes', () => {
    const table = [
      [RpcError, 'RpcError', 'RPC_INTERNAL_ERROR'],
      [RemoteError, 'RemoteError', 'RPC_REMOTE_ERROR'],
      [TimeoutError, 'TimeoutError', 'RPC_TIMEOUT'],
      [CancelledError, 'CancelledError', 'RPC_CANCELLED'],
      [MethodNotFoundError, 'MethodNotFoundError', 'RPC_METHOD_NOT_FOUND'],
      [BusyError, 'BusyError', 'RPC_BUSY'],
      [ChannelClosedError, 'ChannelClosedError', 'RPC_CHANNEL_CLOSED'],
    ] as const
    for (const [Class, name, code] of table) {
      it(`constructs ${name} with no arguments, with code ${code}`, () => {
        const error = new Class()
        expect(error).to.be.instanceOf(Class)
        expect(error).to.be.instanceOf(RpcError)
        expect(error).to.be.instanceOf(Error)
        expect(error.name).to.equal(name)
        expect(error.code).to.equal(code)
        expect(error.message).to.be.a('string').and.not.to.equal('')
        expect(String(error)).to.match(new RegExp(`^${name}: `))
        expect(error.stack).to.be.a('string')
      })
    }

    it('keeps the published codes stable', () => {
      expect(ErrorCode).to.deep.equal({
        Timeout: 'RPC_TIMEOUT',
        Cancelled: 'RPC_CANCELLED',
        MethodNotFound: 'RPC_METHOD_NOT_FOUND',
        Busy: 'RPC_BUSY',
        ChannelClosed: 'RPC_CHANNEL_CLOSED',
        Remote: 'RPC_REMOTE_ERROR',
        Unsendable: 'RPC_UNSENDABLE',
        InvalidRequest: 'RPC_INVALID_REQUEST',
        InvalidParams: 'RPC_INVALID_PARAMS',
        MessageTooLarge: 'RPC_MESSAGE_TOO_LARGE',
        Internal: 'RPC_INTERNAL_ERROR',
        InvalidArgument: 'RPC_INVALID_ARGUMENT',
        Unsupported: 'RPC_UNSUPPORTED',
        InvalidState: 'RPC_INVALID_STATE',
        Released: 'RPC_RELEASED',
      })
    })
  })

  describe('revived from a hostile peer', () => {
    afterEach(() => {
      expect(({} as { polluted?: unknown }).polluted).to.equal(undefined)
    })

    it('never gets an own __proto__ or toJSON key, nor a changed prototype', async () => {
      const { left, raw, requests } = rawCounterpart()
      const call = left.call('x')
      const failure = rejection(call)
      await tick()
      expect(requests).to.have.length(1)
      expect(requests[0]).to.include({ jsonrpc: '2.0', method: 'x', id: call.id })
      const data = JSON.parse('{"name":"X","message":"m","__proto__":{"polluted":1},"toJSON":1,"constructor":{"prototype":{"polluted":2}},"valueOf":1,"then":1,"extra":"kept"}')
      expect(Object.hasOwn(data, '__proto__')).to.equal(true)
      raw.send({ jsonrpc: '2.0', id: requests[0].id, error: { code: -32000, message: 'm', data } })
      const error = await failure
      expect(error).to.be.instanceOf(RemoteError)
      expect(error).to.be.instanceOf(Error)
      expect(Object.getPrototypeOf(error)).to.equal(RemoteError.prototype)
      expect(error.name).to.equal('X')
      expect(error.message).to.equal('m')
      for (const key of ['__proto__', 'toJSON', 'constructor', 'valueOf', 'then']) {
        expect(Object.hasOwn(error, key), key).to.equal(false)
      }
      expect(error.polluted).to.equal(undefined)
      expect(error.toJSON).to.equal(undefined)
      expect(error.then).to.equal(undefined)
      expect(error.extra).to.equal('kept')
      expect(JSON.stringify(error)).to.be.a('string')
    })

    it('never gets them on a revived cause either, and survives non-string names, messages and stacks', async () => {
      const { left, raw, requests } = rawCounterpart()
      const failure = rejection(left.call('y'))
      await tick()
      const data = JSON.parse('{"name":{"x":1},"message":["m"],"stack":5,"code":{},"cause":{"name":"C","message":"c","__proto__":{"polluted":1},"toJSON":1}}')
      raw.send({ jsonrpc: '2.0', id: requests[0].id, error: { code: -32000, message: 'outer', data } })
      const error = await failure
      expect(error).to.be.instanceOf(Error)
      expect(error.name).to.be.a('string')
      expect(error.message).to.be.a('string')
      expect(error.cause).to.be.instanceOf(Error)
      expect(error.cause.message).to.equal('c')
      expect(Object.hasOwn(error.cause, '__proto__')).to.equal(false)
      expect(Object.hasOwn(error.cause, 'toJSON')).to.equal(false)
      expect(error.cause.polluted).to.equal(undefined)
    })

    it('arrive as an Error for an unknown error code, keeping the data', async () => {
      const { left, raw, requests } = rawCounterpart()
      const failure = rejection(left.call('z'))
      await tick()
      raw.send({ jsonrpc: '2.0', id: requests[0].id, error: { code: 12345, message: 'custom', data: { any: 'thing' } } })
      const error = await failure
      expect(error).to.be.instanceOf(RpcError)
      expect(error.message).to.equal('custom')
      expect(error.data).to.deep.equal({ any: 'thing' })
    })
  })
})
