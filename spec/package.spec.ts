import { expect } from 'chai'
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const run = promisify(execFile)

describe('the package', () => {
  it('runs the README quickstart as written, importing treerpc by name', async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    const quickstart = /```js\n([\s\S]*?)```/.exec(readme)?.[1]
    expect(quickstart, 'README has a js quickstart').to.be.a('string')
    // Inside the package, `import 'treerpc'` resolves to the package itself (Node's self-reference).
    const dir = join(root, 'dist', 'readme')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'quickstart.mjs'), quickstart!)
    const { stdout } = await run(process.execPath, [join(dir, 'quickstart.mjs')], { timeout: 20_000 })
    expect(stdout).to.contain('worker says: norm of [3,4]')
    expect(stdout).to.match(/^5$/m)
    expect(stdout).to.contain('{ code: 0, signal: null }')
  })

  it('keeps the engine free of Node imports: treerpc/web imports no node: module', () => {
    const seen = new Set<string>()
    const visit = (file: string): void => {
      if (seen.has(file)) return
      seen.add(file)
      const source = readFileSync(file, 'utf8')
      for (const [, specifier] of source.matchAll(/from '([^']+)'/g)) {
        expect(specifier, `${file} imports ${specifier}`).not.to.match(/^node:|^(fs|path|child_process|worker_threads|os|net|stream)$/)
        if (specifier!.startsWith('.')) visit(resolve(dirname(file), specifier!))
      }
    }
    visit(join(root, 'dist', 'lib', 'web.js'))
    expect(seen.size).to.be.greaterThan(5)
  })

  it('has exactly the three runtime dependencies and no install scripts', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
    expect(Object.keys(pkg.dependencies).sort()).to.deep.equal(['eventemitter3', 'nanoid', 'serialize-error'])
    for (const script of ['preinstall', 'install', 'postinstall']) expect(pkg.scripts).not.to.have.property(script)
  })

  it('packs treerpc/amqp, and without amqplib installed it says what to install', async function () {
    this.timeout(60_000)
    // As users get it: the packed tarball, unpacked into a fresh project's node_modules, its three
    // dependencies beside it, and no amqplib.
    const project = mkdtempSync(join(os.tmpdir(), 'treerpc-pack-'))
    try {
      const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', project], { cwd: root })
      const [packed] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[] }]
      const files = packed.files.map((file) => file.path)
      for (const file of ['dist/lib/amqp.js', 'dist/lib/amqp.d.ts', 'dist/lib/broker/rabbitmq.js', 'dist/lib/broker/adapter.d.ts']) expect(files).to.include(file)
      expect(files.some((file) => file.startsWith('dist/spec') || file.startsWith('dist/bench') || file.startsWith('dist/examples'))).to.equal(false)
      const modules = join(project, 'node_modules')
      mkdirSync(join(modules, 'treerpc'), { recursive: true })
      await run('tar', ['-xzf', join(project, packed.filename), '-C', join(modules, 'treerpc'), '--strip-components=1'])
      for (const dep of ['eventemitter3', 'nanoid', 'serialize-error']) symlinkSync(join(root, 'node_modules', dep), join(modules, dep))
      writeFileSync(join(project, 'try.mjs'), "import { connectBroker } from 'treerpc/amqp'\nawait connectBroker('amqp://127.0.0.1:1').catch((e) => console.log(e.message))\n")
      const tried = await run(process.execPath, [join(project, 'try.mjs')], { cwd: project, timeout: 20_000 })
      expect(tried.stdout).to.contain('treerpc/amqp needs the amqplib package: npm install amqplib')
    } finally {
      rmSync(project, { recursive: true, force: true })
    }
  })

  it('runs exactly the README test command in CI', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    const ci = readFileSync(join(root, '.ci', 'run'), 'utf8')
    expect(readme).to.contain('npm install && npm test')
    expect(ci).to.match(/^npm install && npm test$/m)
  })
})
