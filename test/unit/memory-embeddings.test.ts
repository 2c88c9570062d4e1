import { OpenAIEmbedder } from '../../src/embeddings/openai-embedder';
import { fakeEmbedding, startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';

/** The embeddings provider of memories: transient errors are retried, bad requests are not. */
describe('OpenAI-compatible embeddings', () => {
  let fake: FakeOpenAI;
  beforeAll(async () => {
    fake = await startFakeOpenAI();
  });
  afterAll(() => fake.close());
  beforeEach(() => fake.reset());

  const embedder = () =>
    new OpenAIEmbedder(
      { baseURL: fake.baseURL, apiKey: 'sk-test', model: 'fake-embedding' },
      64,
      2,
    );
  const embeddingCalls = () => fake.requests.filter((r) => r.path === '/v1/embeddings');

  it('retries 429 and 5xx, then returns every vector in order, in batches', async () => {
    fake.failEmbeddings(
      { kind: 'error', status: 503 },
      { kind: 'error', status: 429, headers: { 'retry-after': '0' } },
    );
    const vectors = await embedder().embed(['a', 'b', 'c']);
    expect(vectors).toHaveLength(3);
    vectors.forEach((v, i) => {
      const expected = fakeEmbedding(['a', 'b', 'c'][i], 64);
      v.forEach((x, j) => expect(x).toBeCloseTo(expected[j], 5));
    });
    // Two failures, then two batches (size 2).
    expect(embeddingCalls()).toHaveLength(4);
  });

  it('does not retry a 400', async () => {
    fake.failEmbeddings({ kind: 'error', status: 400 });
    await expect(embedder().embed(['a'])).rejects.toMatchObject({ status: 400 });
    expect(embeddingCalls()).toHaveLength(1);
  });
});
