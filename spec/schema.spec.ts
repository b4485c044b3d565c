/**
 * Params schemas (issue 12): any Standard Schema v1 validator checks a handler's argument array in its
 * pool slot; its output is what the handler receives; issues come back as RPC_INVALID_PARAMS with
 * bounded `data.issues`. Run with two real schema libraries (zod, valibot), over the memory pair and
 * over a real worker thread and child process.
 */
import { expect } from 'chai'
import * as v from 'valibot'
import { z } from 'zod'
import {
  byName,
  type ParamsIssues,
  type ParamsSchema,
  type Peer,
  RemoteError,
  RpcError,
  spawnChild,
  spawnWorker,
  type StandardSchemaV1,
} from '../lib/index.js'
import { deferred, pair, rejection, tick, ticks } from './helpers.js'

const SCHEMA_SERVER = new URL('./fixtures/schema-server.js', import.meta.url)

/** The same schemas written with each library: what a spec needs, nothing more. */
interface Library {
  name: string
  /** `[number, string]` from `[coercible to number, string]`, the string upper-cased. */
  coerced: ParamsSchema<[number, string]>
  /** `[{ name: string, age: number }]`. */
  user: ParamsSchema<[{ name: string; age: number }]>
  /** `[string]`, refused asynchronously when it is 'taken' (after `gate` resolves, when given). */
  unique: (gate?: () => Promise<void>) => ParamsSchema<[string]>
  /** `[number[]]`. */
  numbers: ParamsSchema<[number[]]>
}

const libraries: Library[] = [
  {
    name: 'zod',
    coerced: z.tuple([z.coerce.number(), z.string().transform((s) => s.toUpperCase())]),
    user: z.tuple([z.object({ name: z.string(), age: z.number() })]),
    unique: (gate) => z.tuple([z.string().refine(async (s) => (await gate?.(), s !== 'taken'), 'name is taken')]),
    numbers: z.tuple([z.array(z.number())]),
  },
  {
    name: 'valibot',
    coerced: v.tuple([v.pipe(v.union([v.number(), v.string()]), v.transform(Number)), v.pipe(v.string(), v.transform((s) => s.toUpperCase()))]),
    user: v.tuple([v.object({ name: v.string(), age: v.number() })]),
    unique: (gate) => v.tupleAsync([v.pipeAsync(v.string(), v.checkAsync(async (s) => (await gate?.(), s !== 'taken'), 'name is taken'))]),
    numbers: v.tuple([v.array(v.number())]),
  },
]

/** A RemoteError's `data`, as a params refusal carries it. */
function issuesOf(error: RemoteError): ParamsIssues {
  return error.data as ParamsIssues
}

describe('params schemas (Standard Schema v1)', () => {
  for (const lib of libraries) {
    describe(`with ${lib.name}`, () => {
      it('hands the handler the validated, transformed arguments', async () => {
        const { left, right } = pair()
        const seen: unknown[][] = []
        right.handle('convert', (n, s) => (seen.push([n, s]), `${n * 2}${s}`), { params: lib.coerced })
        expect(await left.remote.convert('21', 'abc')).to.equal('42ABC')
        expect(seen).to.deep.equal([[21, 'ABC']])
      })

      it('refuses invalid arguments with RPC_INVALID_PARAMS, the issues as error data, and never runs the handler', async () => {
        const { left, right } = pair()
        let runs = 0
        right.handle('users.create', (user) => (runs++, user.name), { params: lib.user })
        const error = await rejection(left.remote.users.create({ name: 7, age: 30 }))
        expect(error).to.be.instanceOf(RemoteError)
        expect(error.code).to.equal('RPC_INVALID_PARAMS')
        expect(error.message).to.match(/^Invalid params for "users\.create": args\[0\]\.name: /)
        const data = issuesOf(error)
        expect(data.total).to.equal(1)
        expect(data.issues).to.have.length(1)
        expect(data.issues[0]!.path).to.deep.equal([0, 'name'])
        expect(data.issues[0]!.message).to.be.a('string').and.not.equal('')
        expect(await rejection(left.remote.users.create())).to.have.property('code', 'RPC_INVALID_PARAMS')
        expect(runs).to.equal(0)
        expect(await left.remote.users.create({ name: 'ada', age: 36 })).to.equal('ada')
        expect(runs).to.equal(1)
        await tick()
        expect(left.stats.dropped, 'one reply per call').to.equal(0)
      })

      it('waits for an asynchronous schema before starting the handler', async () => {
        const { left, right } = pair()
        let runs = 0
        right.handle('names.claim', (name) => (runs++, name.length), { params: lib.unique() })
        expect(await left.remote.names.claim('free')).to.equal(4)
        const error = await rejection(left.remote.names.claim('taken'))
        expect(error.code).to.equal('RPC_INVALID_PARAMS')
        expect(error.message).to.contain('name is taken')
        expect(issuesOf(error).issues[0]).to.deep.equal({ path: [0], message: 'name is taken' })
        expect(runs).to.equal(1)
      })

      it('drops a notification with invalid params: its handler never runs, the receiver gets an error event', async () => {
        const { left, right } = pair()
        let runs = 0
        right.handle('log', () => runs++, { params: lib.user })
        const errors: unknown[] = []
        right.on('error', (error) => errors.push(error))
        await left.ready
        left.notify('log', { name: 'x', age: 'old' })
        left.notify('log', { name: 'x', age: 1 })
        await ticks(5)
        expect(runs).to.equal(1)
        expect(errors).to.have.length(1)
        const error = errors[0] as RpcError & { data: ParamsIssues }
        expect(error).to.be.instanceOf(RpcError)
        expect(error.code).to.equal('RPC_INVALID_PARAMS')
        expect(error.message).to.match(/^Invalid params for notification "log": args\[0\]\.age: /)
        expect(error.data.issues[0]!.path).to.deep.equal([0, 'age'])
        expect(right.stats.dropped).to.equal(1)
      })

      it('bounds the issues of a huge invalid input: 20 issues at most, messages clipped, the total kept', async () => {
        const { left, right } = pair()
        let runs = 0
        right.handle('sum', (xs) => (runs++, xs.length), { params: lib.numbers })
        const error = await rejection(left.remote.sum(Array.from({ length: 10_000 }, (_, i) => `item ${i}`)))
        expect(error.code).to.equal('RPC_INVALID_PARAMS')
        const data = issuesOf(error)
        expect(data.total).to.equal(10_000)
        expect(data.issues).to.have.length(20)
        expect(data.issues[19]!.path).to.deep.equal([0, 19])
        expect(error.message).to.contain('(and 9999 more issues)')
        expect(error.message.length).to.be.below(400)
        expect(JSON.stringify(data).length).to.be.below(20 * 300)
        expect(runs).to.equal(0)
      })

      it('with concurrency 1, a refused call frees the slot: the next call runs', async () => {
        const { left, right } = pair({}, { concurrency: 1 })
        let runs = 0
        right.handle('claim', (name) => (runs++, name), { params: lib.unique() })
        right.handle('user', (user) => (runs++, user.age), { params: lib.user })
        // Sent together: each waits for the one slot; refusals, sync and async, must each give it back.
        const outcomes = await Promise.allSettled([
          left.remote.user({ age: 1 }),
          left.remote.claim('taken'),
          left.remote.user({ name: 'a', age: 2 }),
          left.remote.claim('taken'),
          left.remote.claim('free'),
        ])
        expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as RpcError).code))).to.deep.equal([
          'RPC_INVALID_PARAMS',
          'RPC_INVALID_PARAMS',
          2,
          'RPC_INVALID_PARAMS',
          'free',
        ])
        expect(runs).to.equal(2)
      })
    })
  }

  describe('while an asynchronous schema runs', () => {
    for (const lib of libraries) {
      it(`a call cancelled meanwhile never runs its handler, and its slot is freed (${lib.name})`, async () => {
        const { left, right } = pair({}, { concurrency: 1 })
        const gate = deferred()
        let runs = 0
        right.handle('claim', (name) => (runs++, name), { params: lib.unique(() => gate.promise) })
        const controller = new AbortController()
        const call = left.call('claim', ['free'], { signal: controller.signal })
        await ticks(3)
        expect(right.stats.active).to.equal(1)
        controller.abort()
        expect((await rejection(call)).code).to.equal('RPC_CANCELLED')
        await ticks(3)
        expect(right.stats.active, 'the slot is held while the schema runs').to.equal(1)
        gate.resolve()
        await ticks(3)
        expect(runs).to.equal(0)
        expect(right.stats.active).to.equal(0)
        expect(await left.call('claim', ['next'])).to.equal('next')
        expect(runs).to.equal(1)
      })
    }

    it('a channel closed meanwhile: the handler never runs and nothing is left behind', async () => {
      const { left, right } = pair()
      const gate = deferred()
      let runs = 0
      right.handle('claim', () => runs++, { params: libraries[0]!.unique(() => gate.promise) })
      const errors: unknown[] = []
      right.on('error', (error) => errors.push(error))
      const call = left.call('claim', ['free'])
      left.notify('claim', 'also free')
      await ticks(3)
      expect(right.stats.active).to.equal(2)
      right.close()
      expect((await rejection(call)).code).to.equal('RPC_CHANNEL_CLOSED')
      gate.resolve()
      await ticks(3)
      expect(runs).to.equal(0)
      expect(right.stats.active).to.equal(0)
      expect(errors).to.deep.equal([])
    })
  })

  describe('schemas that misbehave', () => {
    it('a schema that throws (a transform, say) refuses the arguments with its message', async () => {
      const { left, right } = pair()
      let runs = 0
      const json = z.tuple([z.string().transform((s) => JSON.parse(s) as unknown)])
      right.handle('parse', (value) => (runs++, value), { params: json })
      expect(await left.remote.parse('{"a":1}')).to.deep.equal({ a: 1 })
      const error = await rejection(left.remote.parse('{nope'))
      expect(error.code).to.equal('RPC_INVALID_PARAMS')
      expect(error.message).to.contain('JSON')
      expect(runs).to.equal(1)
    })

    it('a schema whose output is not an argument array is this side\'s bug: the caller is told, the handler never runs', async () => {
      const { left, right } = pair({}, { concurrency: 1 })
      let runs = 0
      const notATuple: StandardSchemaV1<unknown, [string]> = {
        '~standard': { version: 1, vendor: 'spec', validate: () => ({ value: 'oops' as unknown as [string] }) },
      }
      right.handle('broken', () => runs++, { params: notATuple })
      const error = await rejection(left.remote.broken())
      expect(error.code).to.equal('RPC_INTERNAL_ERROR')
      expect(error.message).to.contain('not an argument array')
      expect(runs).to.equal(0)
    })

    it('a hand-written schema with odd issues (symbol keys, no message, a rejected promise) still gets a bounded refusal', async () => {
      const { left, right } = pair()
      const long = 'k'.repeat(1000)
      const odd: StandardSchemaV1<unknown, unknown[]> = {
        '~standard': {
          version: 1,
          vendor: 'spec',
          validate: (value) =>
            (value as unknown[])[0] === 'reject'
              ? Promise.reject(new Error('lookup failed'))
              : { issues: [{ message: undefined as unknown as string, path: [Symbol('s'), { key: long }, ...Array(100).fill('deep')] }] },
        },
      }
      right.handle('odd', () => 1, { params: odd })
      const error = await rejection(left.remote.odd())
      expect(error.code).to.equal('RPC_INVALID_PARAMS')
      const [issue] = issuesOf(error).issues
      expect(issue!.path[0]).to.equal('Symbol(s)')
      expect((issue!.path[1] as string).length).to.be.below(100)
      expect(issue!.path).to.have.length(17)
      expect(issue!.path[16]).to.equal('…')
      expect(issue!.message).to.equal('undefined')
      const rejected = await rejection(left.remote.odd('reject'))
      expect(rejected.code).to.equal('RPC_INVALID_PARAMS')
      expect(rejected.message).to.contain('lookup failed')
    })
  })

  describe('registering', () => {
    it('expose takes params schemas by handler path, relative to the exposed path', async () => {
      const { left, right } = pair()
      const api = {
        create: (user: { name: string; age: number }) => user.name,
        admin: { delete: (id: number) => id },
        free: (x: unknown) => x,
      }
      right.expose('users', api, { params: { create: libraries[0]!.user, 'admin.delete': v.tuple([v.pipe(v.string(), v.transform(Number))]) } })
      expect(await left.remote.users.admin.delete('12')).to.equal(12)
      expect((await rejection(left.remote.users.admin.delete(12))).code).to.equal('RPC_INVALID_PARAMS')
      expect((await rejection(left.remote.users.create({}))).code).to.equal('RPC_INVALID_PARAMS')
      expect(await left.remote.users.free('anything')).to.equal('anything')
      right.expose({ root: (n: number) => n }, { params: { root: z.tuple([z.number()]) } })
      expect((await rejection(left.remote.root('1'))).code).to.equal('RPC_INVALID_PARAMS')
    })

    it('expose refuses a params path that names no exposed function, or a value that is no schema, and changes nothing', async () => {
      const { left, right } = pair()
      right.expose('users', { create: () => 'kept' })
      expect(() => right.expose('users', { create: () => 1 }, { params: { craete: libraries[0]!.user } })).to.throw(RpcError, /"users\.craete", which is not a function/)
      expect(() => right.expose('users', { create: () => 1 }, { params: { create: z.string as never } })).to.throw(RpcError, /options\.params\["create"\] must be a Standard Schema/)
      expect(await left.remote.users.create()).to.equal('kept')
    })

    it('handle refuses params that are not a Standard Schema', () => {
      const { right } = pair()
      expect(() => right.handle('x', () => 1, { params: { parse: () => [] } as never })).to.throw(RpcError, /options\.params must be a Standard Schema/)
      expect(() => right.handle('x', () => 1, { params: { '~standard': { version: 2, validate: () => ({ value: [] }) } } as never })).to.throw(RpcError)
    })

    it('a validate function runs first, before the schema and outside the slot', async () => {
      const { left, right } = pair()
      const order: string[] = []
      const traced: StandardSchemaV1<unknown, unknown[]> = {
        '~standard': { version: 1, vendor: 'spec', validate: (value) => (order.push('schema'), { value: value as unknown[] }) },
      }
      right.handle('both', () => order.push('handler'), { validate: (args) => (order.push('validate'), args[0] !== 'no'), params: traced })
      await left.remote.both('yes')
      expect((await rejection(left.remote.both('no'))).code).to.equal('RPC_INVALID_PARAMS')
      expect(order).to.deep.equal(['validate', 'schema', 'handler', 'validate'])
    })

    it('checks by-name params as the one argument they arrive as', async () => {
      const { left, right } = pair()
      right.handle('initialize', ({ processId }) => processId + 1, { params: z.tuple([z.object({ processId: z.number() })]) })
      expect(await left.call('initialize', byName({ processId: 41 }))).to.equal(42)
      const error = await rejection(left.call('initialize', byName({ processId: 'x' })))
      expect(issuesOf(error).issues[0]!.path).to.deep.equal([0, 'processId'])
    })

    it('the refusal is a protocol reply: beforeSendError hooks do not see it', async () => {
      const { left, right } = pair()
      const seen: unknown[] = []
      right.use({ beforeSendError: (error) => (seen.push(error), new Error('scrubbed')) })
      right.handle('user', () => 1, { params: libraries[1]!.user })
      const error = await rejection(left.remote.user({}))
      expect(error.code).to.equal('RPC_INVALID_PARAMS')
      expect(issuesOf(error).issues).to.have.length.above(0)
      expect(seen).to.deep.equal([])
    })
  })

  describe('over real channels (the fixture serves one call at a time)', () => {
    const channels = [
      { name: 'a worker thread', start: () => spawnWorker(SCHEMA_SERVER) },
      { name: 'a child process (json)', start: () => spawnChild(SCHEMA_SERVER) },
    ]
    for (const channel of channels) {
      it(`carries transformed arguments and refusals with their issues over ${channel.name}`, async function () {
        this.timeout(20_000)
        const handle = channel.start()
        const peer = handle.peer as Peer<any>
        try {
          expect(await peer.remote.zod.add('40', 2)).to.equal(42)
          expect(await peer.remote.valibot.greet({ name: '  ada ' })).to.equal('hello ada')
          const blank = await rejection(peer.remote.valibot.greet({ name: '   ' }))
          expect(blank).to.be.instanceOf(RemoteError)
          expect(blank.code).to.equal('RPC_INVALID_PARAMS')
          expect(issuesOf(blank)).to.deep.equal({ issues: [{ path: [0, 'name'], message: 'name must not be blank' }], total: 1 })
          const taken = await rejection(peer.remote.zod.unique('taken'))
          expect(issuesOf(taken).issues[0]!.message).to.equal('name is taken')
          const many = await rejection(peer.remote.zod.add(...Array.from({ length: 10_000 }, () => 'x')))
          expect(many.code).to.equal('RPC_INVALID_PARAMS')
          expect(issuesOf(many).issues.length).to.be.at.most(20)
          expect(await peer.remote.zod.unique('free')).to.equal('free')
          expect(await peer.remote.runs()).to.equal(3)
        } finally {
          await handle.close()
        }
      })
    }
  })
})

/** Never called: the handler's parameter types come from the schema's output. */
function typeChecks(peer: Peer): void {
  peer.handle('a', (n, s) => n.toFixed() + s.toUpperCase(), { params: libraries[0]!.coerced })
  peer.handle('b', (n: number, s: string) => n + s, { params: z.tuple([z.coerce.number(), z.string()]) })
  peer.handle('c', ({ name }) => name.trim(), { params: v.tuple([v.object({ name: v.string() })]) })
  // @ts-expect-error the schema's output is [number], not [string]
  peer.handle('d', (s: string) => s, { params: z.tuple([z.number()]) })
  // @ts-expect-error inferred from the output: n is a number
  peer.handle('e', (n) => n.toUpperCase(), { params: z.tuple([z.coerce.number()]) })
  // @ts-expect-error a params schema must produce an argument array
  peer.handle('f', (x: unknown) => x, { params: z.string() })
  // Without params, handlers keep their own types.
  peer.handle('g', (a: number, b: number) => a + b)
  peer.handle('h', (a: number) => a, { validate: (args) => typeof args[0] === 'number' })
}

describe('params schema types', () => {
  it('compile: handler parameters are inferred from the schema', async () => {
    expect(typeChecks).to.be.a('function')
    await tick()
  })
})
