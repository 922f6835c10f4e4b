import { createServer } from 'node:http';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/chromium';
import { createTestContext, ADMIN, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { upload, type UploadResponse } from '../support/http';
import { checkAnswersAgainstOpenApi, OpenApiResponseChecker } from '../support/openapi-check';

type Document = {
  openapi: string;
  paths: Record<string, Record<string, { operationId: string; summary: string; responses: Record<string, unknown> }>>;
  webhooks: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, unknown> };
};

const SCREENSHOTS = path.resolve(import.meta.dirname, '../../test-results/screenshots');
const admin = { Authorization: `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}` };

describe('the OpenAPI document', () => {
  let ctx: TestContext;
  let document: Document;
  beforeAll(async () => {
    ctx = await createTestContext({ worker: false });
    const response = await fetch(`${ctx.url}/api/v1/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    document = (await response.json()) as Document;
  });
  afterAll(async () => {
    await ctx?.stop();
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it("describes every route of the contract's HTTP API and the admin ones", () => {
    const operations = Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`));
    expect(operations).toEqual(
      expect.arrayContaining([
        'POST /api/v1/images',
        'GET /api/v1/images/{id}',
        'DELETE /api/v1/images/{id}',
        'GET /api/v1/images/{id}/similar',
        'POST /api/v1/images/{id}/retry',
        'GET /api/v1/images/{id}/events',
        'GET /api/v1/images/{id}/metadata',
        'GET /api/v1/images/{id}/deliveries',
        'GET /api/v1/openapi.json',
        'POST /api/v1/admin/images/{id}/moderation',
        'POST /api/v1/admin/blocklist',
        'GET /api/v1/admin/blocklist',
        'DELETE /api/v1/admin/blocklist/{id}',
        'GET /healthz',
        'GET /readyz',
        'GET /i/{id}.{ext}',
        'GET /i/{id}/{size}.{format}',
        'GET /i/{id}/{size}',
        'GET /i/{idWithSize}.jpg',
      ]),
    );
  });

  it('has the image resource with thumbhash, and delete_token only in the upload answer', () => {
    const image = document.components.schemas.Image as { properties: Record<string, unknown>; required: string[] };
    expect(image.required).toContain('thumbhash');
    expect(image.properties.delete_token).toBeUndefined();
    const uploaded = document.components.schemas.UploadedImage as { required: string[] };
    expect(uploaded.required).toEqual(expect.arrayContaining(['delete_token', 'thumbhash', 'renditions']));
  });

  it('states what the routes check, so a request it calls invalid is one the API refuses (and the other way round)', async () => {
    // The refinement zod cannot write as JSON Schema (one of phash or image_id) is in the document too.
    const { Ajv2020 } = await import('ajv/dist/2020.js');
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema(document, 'openapi.json');
    const bodySchema = (path: string) =>
      ajv.compile({ $ref: `openapi.json#/paths/${path.replaceAll('/', '~1')}/post/requestBody/content/application~1json/schema` });
    const cases: Array<[string, string, unknown]> = [
      ['/api/v1/admin/blocklist', '/api/v1/admin/blocklist', { phash: '0123456789abcdef', reason: 'spam' }],
      ['/api/v1/admin/blocklist', '/api/v1/admin/blocklist', { phash: '0123' }],
      ['/api/v1/admin/blocklist', '/api/v1/admin/blocklist', {}],
      ['/api/v1/admin/blocklist', '/api/v1/admin/blocklist', { phash: '0123456789abcdef', image_id: 'abcdefg' }],
      ['/api/v1/admin/blocklist', '/api/v1/admin/blocklist', { phash: '0123456789abcdef', color: 'red' }],
      ['/api/v1/admin/images/{id}/moderation', '/api/v1/admin/images/aaaaaaa/moderation', { verdict: 'maybe' }],
      ['/api/v1/admin/images/{id}/moderation', '/api/v1/admin/images/aaaaaaa/moderation', { verdict: 'allow', extra: true }],
      ['/api/v1/admin/images/{id}/moderation', '/api/v1/admin/images/aaaaaaa/moderation', { verdict: 'allow', reason: 'fine' }],
    ];
    for (const [template, url, body] of cases) {
      const documentAccepts = bodySchema(template)(body);
      const response = await fetch(`${ctx.url}${url}`, {
        method: 'POST',
        headers: { ...admin, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      // Accepted bodies get past validation: 201, or 404 for the image that does not exist.
      expect(response.status === 400, `${url} ${JSON.stringify(body)}: ${response.status}`).toBe(!documentAccepts);
    }
  });

  describe('the check every e2e answer goes through', () => {
    let checker: OpenApiResponseChecker;
    let created: UploadResponse;
    beforeAll(async () => {
      checker = new OpenApiResponseChecker(document as never);
      created = (await (await upload(ctx.url, readCorpus('photos/DSCN0010.jpg'))).json()) as UploadResponse;
    });
    const problemsOf = (method: string, path: string, response: Response) => checker.problems(method, new URL(path, ctx.url), response);
    const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
      new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json; charset=utf-8', ...headers } });

    it('passes the real answers', async () => {
      const { delete_token: _token, ...resource } = created;
      expect(await problemsOf('GET', `/api/v1/images/${created.id}`, json(resource))).toEqual([]);
      expect(await problemsOf('GET', '/api/v1/images/aaaaaaa', json({ error: { code: 'not_found', message: 'No image' } }, 404))).toEqual([]);
    });

    it('fails a resource with a field it does not describe (a delete token leaking into GET), or a missing one', async () => {
      expect(await problemsOf('GET', `/api/v1/images/${created.id}`, json(created))).toEqual([
        expect.stringContaining('must NOT have additional properties'),
      ]);
      const { thumbhash: _thumbhash, delete_token: _token, ...withoutThumbhash } = created;
      expect(await problemsOf('GET', `/api/v1/images/${created.id}`, json(withoutThumbhash))).toEqual([
        expect.stringContaining("must have required property 'thumbhash'"),
      ]);
    });

    it('fails a status the operation does not list, an error code that does not fit its status and a 503 without Retry-After', async () => {
      expect(await problemsOf('GET', `/api/v1/images/${created.id}`, json({ error: { code: 'internal', message: 'x' } }, 500))).toEqual([
        expect.stringContaining('status 500, which the operation does not list'),
      ]);
      expect(await problemsOf('GET', `/api/v1/images/${created.id}`, json({ error: { code: 'gone', message: 'x' } }, 404))).toEqual([
        expect.stringContaining('/error/code must be equal to one of the allowed values'),
      ]);
      expect(await problemsOf('GET', `/api/v1/images/${created.id}`, json({ error: { code: 'unavailable', message: 'x' } }, 503))).toEqual([
        'status 503 without its required Retry-After header',
      ]);
    });

    it('fails an answer from a route the document does not have, unless it is an error in the contract format', async () => {
      expect(await problemsOf('GET', '/api/v1/nothing', json({ items: [] }))).toEqual([expect.stringContaining('does not describe')]);
      expect(await problemsOf('GET', '/api/v1/nothing', json({ error: { code: 'not_found', message: 'x' } }, 404))).toEqual([]);
    });

    it('rejects the fetch() of a test whose answer does not match, and reports it again when the context stops', async () => {
      // A server that serves the real document but answers an image without its fields: what a broken API would do.
      const broken = createServer((req, res) => {
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify(req.url === '/api/v1/openapi.json' ? document : { id: 'aaaaaaa' }));
      });
      await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve));
      const base = `http://127.0.0.1:${(broken.address() as AddressInfo).port}`;
      try {
        const mismatches = await checkAnswersAgainstOpenApi(base);
        await expect(fetch(`${base}/api/v1/images/aaaaaaa`)).rejects.toThrow(
          /GET \/api\/v1\/images\/aaaaaaa answered 200, which does not match the OpenAPI document:\n.*must have required property 'status'/,
        );
        expect(mismatches()).toHaveLength(1);
      } finally {
        broken.closeAllConnections();
        await new Promise((resolve) => broken.close(resolve));
      }
    });
  });
});

describe('the API reference at /docs', () => {
  let ctx: TestContext;
  let browser: Browser;
  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    ctx = await createTestContext({ worker: false });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await ctx?.stop();
  });

  it('renders every operation from our own server alone, offline, without breaking its CSP', async () => {
    const document = (await (await fetch(`${ctx.url}/api/v1/openapi.json`)).json()) as Document;
    // Swagger UI shows the webhooks as operations too.
    const operationCount = [...Object.values(document.paths), ...Object.values(document.webhooks)].reduce(
      (sum, item) => sum + Object.keys(item).length,
      0,
    );

    const context = await browser.newContext({ offline: false });
    const page = await context.newPage();
    const foreign: string[] = [];
    const violations: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(ctx.url) && !request.url().startsWith('data:')) foreign.push(request.url());
    });
    // What the CSP blocked (an inline style, a script from elsewhere), as the page itself is told.
    await page.exposeFunction('reportViolation', (violation: string) => violations.push(violation));
    await page.addInitScript(() => {
      // The browser's window, typed here: this project compiles without the DOM library.
      const window = globalThis as unknown as {
        reportViolation(violation: string): void;
        addEventListener(type: string, listener: (event: { violatedDirective: string; blockedURI: string }) => void): void;
      };
      window.addEventListener('securitypolicyviolation', (event) => window.reportViolation(`${event.violatedDirective} blocked ${event.blockedURI}`));
    });
    // Nothing beyond this server is reachable, as on a machine without internet.
    await context.route((url) => !url.href.startsWith(ctx.url) && url.protocol !== 'data:', (route) => route.abort('internetdisconnected'));

    const response = await page.goto(`${ctx.url}/docs`);
    expect(response?.status()).toBe(200);
    const csp = response?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*(unsafe-inline|unsafe-eval|https?:)/);

    await page.locator('.opblock').first().waitFor({ timeout: 30_000 });
    expect(await page.locator('.opblock').count()).toBe(operationCount);
    await expect.poll(() => page.locator('.opblock-summary-path').allTextContents()).toEqual(
      expect.arrayContaining(['/api/v1/images', '/api/v1/images/{id}/similar', '/i/{id}/{size}']),
    );
    expect(await page.locator('.info .title').textContent()).toContain('renditions');

    // An operation opens with its responses rendered from the schemas.
    await page.locator('#operations-images-uploadImage .opblock-summary').click();
    await page.locator('#operations-images-uploadImage .responses-table').waitFor();
    expect(await page.locator('#operations-images-uploadImage .response-col_status').allTextContents()).toEqual(
      expect.arrayContaining(['201', '413', '415', '429']),
    );
    expect(foreign).toEqual([]);
    expect(violations).toEqual([]);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'api-reference.png'), fullPage: false });
    await context.close();
  });
});
