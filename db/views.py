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
}
