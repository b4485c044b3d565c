/**
 * Hooks: call metadata (a W3C traceparent across a real child process), interceptors on both sides
 * (refusing a call going out, refusing a request coming in with a coded error, scrubbing errors),
 * errorDetail 'minimal', and the trace of every message.
 */
import { expect } from 'chai'
import { callContext, createPool, ErrorCode, type Meta, RemoteError, RpcError, spawnChild } from '../lib/index.js'
import { pair, rejection, tick } from './helpers.js'

const OUTCOMES = new URL('./fixtures/outcomes.js', import.meta.url)
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'

describe('hooks', () => {
  describe('call metadata', () => {
    it('reaches the handler as callContext().meta: per call, over the peer-wide meta hook', async () => {
      const seen: Array<Meta | undefined> = []
      const { left } = pair(
        { hooks: { meta: () => ({ traceparent: TRACEPARENT, tenant: 'a' }) } },
        { expose: { who: () => void seen.push(callContext().meta), note: () => void seen.push(callContext().meta) } },
      )
      await left.call('who')
      await left.call('who', [], { meta: { tenant: 'b', when: new Date(5) } })
      left.notify('note')
      await tick()
      await tick()
      expect(seen[0]).to.deep.equal({ traceparent: TRACEPARENT, tenant: 'a' })
      expect(seen[1]).to.deep.equal({ traceparent: TRACEPARENT, tenant: 'b', when: new Date(5) })
      expect(seen[2]).to.deep.equal({ traceparent: TRACEPARENT, tenant: 'a' })
    })

    it('carries a traceparent to a real child process over json IPC; no meta reads undefined', async () => {
      const child = spawnChild(OUTCOMES)
      try {
        expect(await child.peer.call('meta')).to.equal(null)
        expect(await child.peer.call('meta', [], { meta: { traceparent: TRACEPARENT, at: new Date(7) } })).to.deep.equal({ traceparent: TRACEPARENT, at: new Date(7) })
      } finally {
        await child.close()
      }
    })

    it('travels with pool calls, whether a member is free or the call waits in the pool queue', async () => {
      const pool = createPool(OUTCOMES, { size: 1, concurrency: 1 })
      try {
        await pool.ready
        const [first, queued] = await Promise.all([
          pool.call('meta', [], { meta: { n: 1 } }),
          pool.call('meta', [], { meta: { n: 2 } }),
        ])
        expect([first, queued]).to.deep.equal([{ n: 1 }, { n: 2 }])
      } finally {
        await pool.close()
      }
    })

    it('refuses a meta that is not an object, naming options.meta', async () => {
      const { left } = pair()
      const error = await rejection(left.call('x', [], { meta: 'token' as never }))
      expect(error.code).to.equal(ErrorCode.InvalidArgument)
      expect(error.message).to.match(/^options\.meta must be an object/)
    })
  })

  describe('interceptors', () => {
    it('beforeCall sees each call, notification and event, may replace its meta, and refuses by throwing', async () => {
      const seen: string[] = []
      const { left, right } = pair({}, { expose: { ping: () => callContext().meta } })
      left.use({
        beforeCall(call) {
          seen.push(`${call.kind}:${call.path}`)
          if (call.path === 'forbidden') throw new RpcError('not from here', 'E_LOCAL')
          call.meta = { ...call.meta, stamped: true }
        },
      })
      expect(await left.call('ping')).to.deep.equal({ stamped: true })
      const refused = await rejection(left.call('forbidden'))
      expect(refused.code).to.equal('E_LOCAL')
      expect(left.stats.pending).to.equal(0)
      expect(() => left.notify('forbidden')).to.throw(RpcError, 'not from here')
      const got = new Promise((resolve) => right.once('evt', resolve))
      left.emit('evt', 1)
      expect(await got).to.equal(1)
      expect(seen).to.deep.equal(['call:ping', 'call:forbidden', 'notify:forbidden', 'emit:evt'])
    })

    it('beforeHandle refuses a request with a coded error before the handler (or its validator) runs', async () => {
      let ran = 0
      const { left, right } = pair({}, { expose: { admin: { drop: () => ++ran }, open: () => ++ran } })
      right.use({
        beforeHandle({ path, meta }) {
          if (path.startsWith('admin.') && meta?.role !== 'admin') throw Object.assign(new Error(`forbidden: ${path}`), { code: 'E_FORBIDDEN' })
        },
      })
      const error = await rejection(left.call('admin.drop'))
      expect(error).to.be.instanceOf(RemoteError)
      expect(error.code).to.equal('E_FORBIDDEN')
      expect(error.message).to.equal('forbidden: admin.drop')
      left.notify('admin.drop')
      await tick()
      expect(ran).to.equal(0)
      expect(await left.call('admin.drop', [], { meta: { role: 'admin' } })).to.equal(1)
      expect(await left.call('open')).to.equal(2)
    })

    it('beforeSendError scrubs what a handler error tells the other side', async () => {
      const { left, right } = pair({}, { expose: { leak: () => { throw Object.assign(new Error('db password is hunter2'), { query: 'SELECT *' }) } } })
      right.use({ beforeSendError: (error) => new RpcError(`Internal error (${(error as Error).name})`, 'E_INTERNAL') })
      const error = await rejection(left.call('leak'))
      expect(error.message).to.equal('Internal error (Error)')
      expect(error.code).to.equal('E_INTERNAL')
      expect(error).not.to.have.property('query')
    })

    it("errorDetail 'minimal' sends name, message and code only: no stack, no cause, no custom fields", async () => {
      const { left } = pair({}, {
        errorDetail: 'minimal',
        expose: { fail: function secretHandlerName() { throw Object.assign(new RangeError('out of range', { cause: new Error('inner') }), { code: 'E_RANGE', secret: 42 }) } },
      })
      const error = await rejection(left.call('fail'))
      expect(error.name).to.equal('RangeError')
      expect(error.message).to.equal('out of range')
      expect(error.code).to.equal('E_RANGE')
      expect(error).not.to.have.property('secret')
      expect(error.cause).to.equal(undefined)
      expect(String(error.stack)).not.to.contain('secretHandlerName')
    })

    it('trace sees every message in and out, and costs nothing when unset', async () => {
      const log: Array<[string, string]> = []
      const { left } = pair({ hooks: { trace: (direction, message) => log.push([direction, String((message as { method?: string }).method ?? 'reply')]) } }, { expose: { add: (a: number, b: number) => a + b } })
      expect(await left.remote.add(1, 2)).to.equal(3)
      expect(log).to.deep.include.members([['out', 'rpc.hello'], ['in', 'rpc.hello'], ['out', 'add'], ['in', 'reply']])
    })

    it('takes meta and trace as peer options too; trace: true logs with console.debug', async () => {
      const lines: unknown[][] = []
      const debug = console.debug
      console.debug = (...args: unknown[]) => void lines.push(args)
      try {
        const seen: unknown[] = []
        const { left } = pair({ meta: () => ({ tenant: 't' }), trace: true }, { expose: { who: () => callContext().meta } })
        seen.push(await left.call('who'))
        expect(seen).to.deep.equal([{ tenant: 't' }])
        expect(lines.some(([label]) => String(label).endsWith(' out'))).to.equal(true)
        expect(lines.some(([label]) => String(label).endsWith(' in'))).to.equal(true)
      } finally {
        console.debug = debug
      }
    })

    it('refuses hooks that are not functions, naming them', () => {
      const { left } = pair()
      expect(() => left.use({ trace: 'yes' as never })).to.throw(RpcError, /^hooks\.trace must be a function/)
    })
  })
})
