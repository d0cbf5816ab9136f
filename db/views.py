"""SQL views offered to analysts (Datasette shows them as tables). Declared here, created by ensure_schema.

Counts and stance tallies count one upstream document once however many sources reached it
(`db.identities`): mentions that repeat a copy's mention are left out (``canonical_mentions``), and
documents are counted by their group's representative (``canonical_id``).
"""

from db.identities import MENTION_REPEATS_SQL, NOT_A_REPEAT, REPRESENTATIVE

# documents (id, canonical_id, source, jurisdiction, published_at, first_seen_at), created by migration
# 0013_count_indexes: the count views read a mention's document from it, never the 20 KB row (where
# canonical_id sits after the text, behind its overflow pages). SQLite would look ``d.id = ?`` up by rowid.
COUNT_INDEX = "idx_documents_counts"

VIEWS: dict[str, str] = {
    # one document, many sources (db.identities): the repeats, then what counts once
    "mention_repeats": MENTION_REPEATS_SQL,
    "canonical_mentions": f"""
        select m.*, d.canonical_id from mentions m join documents d indexed by {COUNT_INDEX} on d.id = m.document_id
        where {NOT_A_REPEAT}""",
    "canonical_documents": f"""
        select d.id, d.source, d.source_id, d.url, d.title, d.doc_type, d.jurisdiction, d.institution, d.language,
               d.published_at, d.updated_at, d.first_seen_at, d.stance, d.entities, d.topics, d.group_key, d.story_id,
               (select count(*) from documents c where c.canonical_id = d.id and c.id != d.id) as copies,
               (select json_group_array(json_object('id', c.id, 'source', c.source, 'source_id', c.source_id,
                                                    'url', c.url))
                from documents c where c.canonical_id = d.id and c.id != d.id) as also_at
        from documents d where {REPRESENTATIVE}""",
    "canonical_document_topics": f"""
        select dt.* from document_topics dt join documents d on d.id = dt.document_id where {REPRESENTATIVE}""",
    "new_mentions_7d": """
        select m.id, m.first_seen_at, m.topic, m.entity_id, e.name as entity, m.stance, m.stance_score,
               m.sentence, d.id as document_id, d.title, d.source, d.jurisdiction, d.url, d.published_at
        from canonical_mentions m join documents d on d.id = m.document_id left join entities e on e.id = m.entity_id
        where m.first_seen_at >= datetime('now', '-7 days')
        order by m.first_seen_at desc""",
    "stance_by_source_month": """
        select d.source, substr(coalesce(d.published_at, d.fetched_at), 1, 7) as month, m.topic,
               sum(m.stance = 'critical') as critical, sum(m.stance = 'supportive') as supportive,
               sum(m.stance = 'neutral') as neutral, sum(m.stance is null) as unclassified, count(*) as mentions
        from canonical_mentions m join documents d on d.id = m.document_id
        group by d.source, month, m.topic order by month desc, d.source""",
    # documents: identity groups (a pair found in two copies of one document counts once)
    "entity_cooccurrence": """
        select a.entity_id as entity, b.entity_id as co_entity, e.name as co_entity_name, e.type as co_entity_type,
               count(distinct a.document_id) as documents
        from (select distinct coalesce(d.canonical_id, d.id) as document_id, m.entity_id
              from mentions m join documents d on d.id = m.document_id) a
        join (select distinct coalesce(d.canonical_id, d.id) as document_id, m.entity_id
              from mentions m join documents d on d.id = m.document_id) b
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
    # Front end (tracker serve): health of the sources (judged by db.health, stored in source_health_state),
    # legislation status, weekly mention counts for charts.
    "source_health": """
        select s.id as source, s.title, s.jurisdiction, s.enabled, s.interval, s.expect_results, s.last_run_at,
               s.last_status, h.last_success_at, h.hours_since_success, h.health,
               h.reason, s.last_error, h.last_run_status, h.last_run_finished_at, h.last_run_fetched, h.last_run_new,
               h.last_run_updated, h.last_run_unchanged, h.last_run_errors, h.items_ever, h.recent_successful_runs,
               h.recent_items, h.last_failure_message, h.last_failure_at, h.runs_7d, h.failed_runs_7d,
               (select count(*) from documents d where d.source = s.id) as documents, s.base_url, h.checked_at
        from sources s left join source_health_state h on h.source = s.id
        order by s.id""",
    "dossier_status": """
        select ds.key, ds.kind, ds.source, ds.title, ds.stage, ds.status, ds.latest_event_date, ds.latest_event,
               (select count(*) from events ev where ev.dossier_key = ds.key) as events, ds.updated_at, ds.url
        from dossiers ds order by ds.latest_event_date desc""",
    # counted per document first (covering index mentions(document_id, topic, stance); repeats by rowid), then one
    # lookup per document in COUNT_INDEX
    "mentions_by_week": f"""
        select date(substr(coalesce(d.published_at, d.first_seen_at), 1, 10), '-6 days', 'weekday 1') as week,
               m.topic, m.stance, d.jurisdiction, d.source, sum(m.n) as mentions
        from (select document_id, topic, coalesce(stance, 'unclassified') as stance, count(*) as n
              from mentions m where {NOT_A_REPEAT} group by document_id, topic, stance) m
        join documents d indexed by {COUNT_INDEX} on d.id = m.document_id
        group by week, m.topic, m.stance, d.jurisdiction, d.source""",
    "news_stories": """
        select s.id, s.title, s.published_at, s.first_seen_at, s.documents, s.outlets, s.languages, s.copies,
               (select group_concat(d.url, ' ') from documents d where d.story_id = s.id) as urls
        from stories s order by coalesce(s.published_at, s.first_seen_at) desc""",
}
