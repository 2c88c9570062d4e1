-- File ingestion and hybrid search (issue 4).
-- Chunks remember the PDF page they start on; files remember the detected format.
alter table chunks add column page int;
alter table files add column format text;
create index files_by_run on files (run_id);

-- Full-text halves of the hybrid search (the vector halves use the HNSW indexes).
-- Expressions must match the queries in src/search/hybrid-search.ts.
create index memories_search_tsv on memories using gin (to_tsvector('english', content))
  where valid_to is null;
create index moments_search_tsv on moments using gin (to_tsvector('english', title || ' ' || summary));
