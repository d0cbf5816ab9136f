"""SQL views offered to analysts (Datasette shows them as tables). Declared here, created by ensure_schema."""

VIEWS: dict[str, str] = {
    "new_mentions_7d": """
        select m.id, m.first_seen_at, m.topic, m.entity_id, e.name as entity, m.stance, m.stance_score,
               m.sentence, d.id as document_id, d.title, d.source, d.jurisdiction, d.url, d.published_at
        from mentions m join documents d on d.id = m.document_id left join entities e on e.id = m.entity_id
        where m.first_seen_at >= datetime('now', '-7 days')
        order by m.first_seen_at desc""",
    "stance_by_source_month": """
        select d.source, substr(coalesce(d.published_at, d.fetched_at), 1, 7) as month, m.topic,
               sum(m.stance = 'critical') as critical, sum(m.stance = 'supportive') as supportive,
               sum(m.stance = 'neutral') as neutral, sum(m.stance is null) as unclassified, count(*) as mentions
        from mentions m join documents d on d.id = m.document_id
        group by d.source, month, m.topic order by month desc, d.source""",
    "entity_cooccurrence": """
        select a.entity_id as entity, b.entity_id as co_entity, e.name as co_entity_name, e.type as co_entity_type,
               count(distinct a.document_id) as documents
        from (select distinct document_id, entity_id from mentions) a
        join (select distinct document_id, entity_id from mentions) b
          on a.document_id = b.document_id and a.entity_id != b.entity_id
        left join entities e on e.id = b.entity_id
        group by a.entity_id, b.entity_id order by documents desc""",
    "bill_actions": """
        select ev.dossier_key as bill, ds.title, ev.date, ev.kind, ev.description, ev.actor, ev.ref_url
        from events ev join dossiers ds on ds.key = ev.dossier_key
        where ds.kind = 'bill' order by ev.dossier_key, ev.date""",
    "procedure_events": """
        select ev.dossier_key as procedure, ds.title, ev.date, ev.kind, ev.description, ev.ref_id, ev.ref_url
        from events ev join dossiers ds on ds.key = ev.dossier_key
        where ds.kind = 'procedure' order by ev.dossier_key, ev.date""",
    # Front end (tracker serve): health of the sources, legislation status, weekly mention counts for charts.
    "source_health": """
        select s.id as source, s.title, s.jurisdiction, s.enabled, s.interval, s.last_run_at, s.last_status,
               ok.finished_at as last_success_at,
               round((julianday('now') - julianday(ok.finished_at)) * 24, 1) as hours_since_success,
               case
                 when not s.enabled then 'disabled'
                 when last.id is null then 'never'
                 when last.status in ('failed', 'blocked') then 'failing'
                 when ok.id is null then 'never'
                 when (julianday('now') - julianday(ok.finished_at)) * 86400 > 3 *
                      cast(substr(trim(s.interval), 1, length(trim(s.interval)) - 1) as real) *
                      case substr(trim(s.interval), -1) when 's' then 1 when 'm' then 60 when 'h' then 3600
                                                         when 'd' then 86400 when 'w' then 604800 end then 'stale'
                 when agg.items_ever = 0 then 'stale'
                 when recent.runs >= 3 and recent.items = 0 then 'stale'
                 when last.status = 'partial' then 'degraded'
                 else 'ok'
               end as health,
               case
                 when last.status in ('failed', 'blocked') then last.status || ': ' || coalesce(last.message, '')
                 when agg.items_ever = 0 then 'no successful run has returned any item'
                 when recent.runs >= 3 and recent.items = 0 then 'the last 3 successful runs returned nothing'
                 when last.status = 'partial' then coalesce(last.message, 'some items failed')
               end as reason,
               s.last_error,
               last.status as last_run_status, last.finished_at as last_run_finished_at, last.fetched as last_run_fetched,
               last.new as last_run_new, last.updated as last_run_updated, last.unchanged as last_run_unchanged,
               last.errors as last_run_errors, agg.items_ever, recent.runs as recent_successful_runs,
               recent.items as recent_items,
               (select r.message from crawl_runs r where r.source = s.id and r.status != 'ok' and r.status != 'running'
                 order by r.id desc limit 1) as last_failure_message,
               (select r.finished_at from crawl_runs r where r.source = s.id and r.status != 'ok' and r.status != 'running'
                 order by r.id desc limit 1) as last_failure_at,
               (select count(*) from crawl_runs r where r.source = s.id
                 and r.started_at >= strftime('%Y-%m-%dT%H:%M:%S', 'now', '-7 days')) as runs_7d,
               (select count(*) from crawl_runs r where r.source = s.id and r.status in ('failed', 'blocked')
                 and r.started_at >= strftime('%Y-%m-%dT%H:%M:%S', 'now', '-7 days')) as failed_runs_7d,
               (select count(*) from documents d where d.source = s.id) as documents,
               s.base_url
        from sources s
        left join crawl_runs last on last.id = (select max(r.id) from crawl_runs r where r.source = s.id and r.status != 'running')
        left join crawl_runs ok on ok.id = (select max(r.id) from crawl_runs r where r.source = s.id and r.status in ('ok', 'partial'))
        left join (select r.source, sum(r.fetched + r.unchanged) as items_ever from crawl_runs r
                   where r.status in ('ok', 'partial') group by r.source) agg on agg.source = s.id
        left join (select x.source, count(*) as runs, sum(x.fetched + x.unchanged) as items from
                     (select r.source, r.fetched, r.unchanged,
                             row_number() over (partition by r.source order by r.id desc) as n
                      from crawl_runs r where r.status in ('ok', 'partial')) x
                   where x.n <= 3 group by x.source) recent on recent.source = s.id
        order by s.id""",
    "dossier_status": """
        select ds.key, ds.kind, ds.source, ds.title, ds.stage, ds.status, ds.latest_event_date, ds.latest_event,
               (select count(*) from events ev where ev.dossier_key = ds.key) as events, ds.updated_at, ds.url
        from dossiers ds order by ds.latest_event_date desc""",
    # counted per document first (covering index mentions(document_id, topic, stance)), then one lookup per document
    "mentions_by_week": """
        select date(substr(coalesce(d.published_at, d.first_seen_at), 1, 10), '-6 days', 'weekday 1') as week,
               m.topic, m.stance, d.jurisdiction, d.source, sum(m.n) as mentions
        from (select document_id, topic, coalesce(stance, 'unclassified') as stance, count(*) as n
              from mentions group by document_id, topic, stance) m
        join documents d on d.id = m.document_id
        group by week, m.topic, m.stance, d.jurisdiction, d.source""",
    "news_stories": """
        select s.id, s.title, s.published_at, s.first_seen_at, s.documents, s.outlets, s.languages, s.copies,
               (select group_concat(d.url, ' ') from documents d where d.story_id = s.id) as urls
        from stories s order by coalesce(s.published_at, s.first_seen_at) desc""",
}
