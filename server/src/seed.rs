//! `switchboard seed`: demo organizations with a confirmed owner each, agents, and calls
//! with transcripts, made with set-based SQL (a million calls in well under a minute).

use std::time::Instant;

use app::auth::server::PasswordHasher;
use sqlx::PgPool;

/// The password every seeded owner gets (printed, so people can sign in).
pub const DEMO_PASSWORD: &str = "switchboard-demo-password";

#[derive(Debug, Clone, Copy)]
pub struct SeedOptions {
    pub orgs: u32,
    pub calls_per_org: u32,
    pub agents_per_org: u32,
}

#[derive(Debug)]
pub struct SeedReport {
    pub run: String,
    pub orgs: u64,
    pub agents: u64,
    pub calls: u64,
    pub first_email: String,
    pub seconds: f64,
}

pub async fn seed(
    pool: &PgPool,
    options: SeedOptions,
) -> Result<SeedReport, app::errors::AppError> {
    let started = Instant::now();
    // One hash for every demo owner: the password is public anyway.
    let hash = PasswordHasher::new(1)
        .hash(DEMO_PASSWORD.to_owned())
        .await?;
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let mut tx = app::db::begin(pool).await?;
    sqlx::query(
        "create temp table seed_orgs on commit drop as
         select g as n, gen_random_uuid() as org_id, gen_random_uuid() as user_id
         from generate_series(1, $1) g",
    )
    .bind(options.orgs as i32)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into auth.users (id, email, encrypted_password, email_confirmed_at, raw_app_meta_data, raw_user_meta_data)
         select user_id, 'owner' || n || '-' || $1 || '@demo.switchboard.test', $2, now(),
                '{\"provider\": \"email\", \"providers\": [\"email\"]}'::jsonb,
                jsonb_build_object('full_name', 'Demo Owner ' || n)
         from seed_orgs",
    )
    .bind(&run)
    .bind(&hash)
    .execute(&mut *tx)
    .await?;
    let orgs = sqlx::query(
        "insert into public.organizations (id, name)
         select org_id, (array['Acme Dental', 'Globex Plumbing', 'Initech Legal', 'Umbrella Clinics', 'Hooli Realty',
                               'Stark Auto', 'Wayne Insurance', 'Wonka Catering'])[1 + n % 8] || ' ' || n
         from seed_orgs",
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::raw_sql(
        "insert into public.profiles (id, full_name, organization_id)
           select user_id, 'Demo Owner ' || n, org_id from seed_orgs;
         insert into public.memberships (organization_id, user_id, role)
           select org_id, user_id, 'owner' from seed_orgs;",
    )
    .execute(&mut *tx)
    .await?;
    let agents = sqlx::query(
        "insert into public.agents (organization_id, name, greeting, instructions, voice, language, phone_number, status)
         select o.org_id,
                (array['Reception', 'Sales', 'Support', 'After hours', 'Scheduling'])[1 + (k - 1) % 5]
                  || case when k > 5 then ' ' || k else '' end,
                'Thanks for calling ' || (array['Acme Dental', 'Globex Plumbing', 'Initech Legal', 'Umbrella Clinics',
                  'Hooli Realty', 'Stark Auto', 'Wayne Insurance', 'Wonka Catering'])[1 + o.n % 8] || ', how can I help?',
                'Be brief and friendly. Collect the caller''s name and reason, then book or route the call.',
                (array['alloy', 'aria', 'echo', 'nova', 'sage', 'verse'])[1 + (o.n + k) % 6],
                (array['en-US', 'en-US', 'en-GB', 'es-ES'])[1 + (o.n + k) % 4],
                '+1' || (200 + (o.n % 700))::text || lpad(((o.n * 7 + k) % 10000000)::text, 7, '0'),
                case when k % 4 = 0 then 'paused' else 'active' end
         from seed_orgs o cross join generate_series(1, $1) k",
    )
    .bind(options.agents_per_org.max(1) as i32)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query(
        "create temp table seed_agents on commit drop as
         select a.organization_id, array_agg(a.id order by a.name) as ids
         from public.agents a join seed_orgs o on o.org_id = a.organization_id group by 1",
    )
    .execute(&mut *tx)
    .await?;
    let calls = sqlx::query(
        "insert into public.calls (organization_id, agent_id, direction, from_number, to_number, started_at,
                                   duration_seconds, status, sentiment, summary, transcript, recording_url)
         select o.org_id, a.ids[1 + (i % cardinality(a.ids))], x.direction,
                '+1' || (200 + (i % 700))::text || lpad(((i * 7919) % 10000000)::text, 7, '0'),
                '+1415' || lpad((o.n % 10000000)::text, 7, '0'),
                now() - (random() * interval '30 days'),
                case when x.status = 'completed' then 20 + (random() * 600)::int else 0 end,
                x.status,
                case when x.status = 'completed' then (array['positive', 'neutral', 'negative'])[1 + (i % 3)] end,
                x.summary,
                case when x.status = 'completed' then jsonb_build_array(
                  jsonb_build_object('speaker', 'agent', 'text', 'Thanks for calling, how can I help?', 'at_ms', 0),
                  jsonb_build_object('speaker', 'caller', 'text', x.ask, 'at_ms', 2400),
                  jsonb_build_object('speaker', 'agent', 'text', x.answer, 'at_ms', 6100),
                  jsonb_build_object('speaker', 'caller', 'text', 'Great, thank you!', 'at_ms', 11800)
                ) else '[]'::jsonb end,
                case when x.status = 'completed' and i % 5 = 0
                     then 'https://recordings.example.com/' || o.org_id || '/' || i || '.mp3' end
         from seed_orgs o
         join seed_agents a on a.organization_id = o.org_id
         cross join generate_series(1, $1) i
         cross join lateral (
           select
             case when i % 4 = 0 then 'outbound' else 'inbound' end as direction,
             (array['completed', 'completed', 'completed', 'completed', 'completed', 'completed',
                    'missed', 'voicemail', 'completed', 'failed'])[1 + (i * 31 + o.n) % 10] as status,
             (array['Booked a cleaning appointment for next Tuesday at 10am.',
                    'Asked about opening hours and parking; answered.',
                    'Reported a leaking pipe; emergency visit scheduled.',
                    'Requested a quote for a kitchen renovation; sent by email.',
                    'Wanted to reschedule an appointment to Friday afternoon.',
                    'Billing question about the last invoice; transferred to accounts.',
                    'New patient registration; collected insurance details.',
                    'Cancelled a reservation for Saturday dinner.'])[1 + (i * 13 + o.n) % 8] as summary,
             (array['I would like to book an appointment.', 'What are your opening hours?',
                    'There is water leaking under my sink.', 'Can I get a quote?'])[1 + i % 4] as ask,
             (array['Sure, I have Tuesday at 10am available. Shall I book it?',
                    'We are open 8am to 6pm, Monday to Saturday.',
                    'I have scheduled an emergency visit within two hours.',
                    'I have sent a detailed quote to your email.'])[1 + i % 4] as answer
         ) x",
    )
    .bind(options.calls_per_org as i32)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    // Vacuumed as well as analyzed, as after any bulk load: left to autovacuum, the new
    // rows were vacuumed some 40 s after the seed, for about 15 s (throttled), in the
    // middle of whatever ran next, such as the benchmark's 1M runs (seen in the embedded
    // cluster; by hand it takes about 1.3 s for 1M calls). VACUUM cannot run inside a
    // transaction, hence a simple-protocol statement. The smaller tables too: until
    // autovacuum reached `memberships` (a minute or so), each RLS check's membership read
    // was planned from a guess of 4 rows per user, as a bitmap scan (callgrind: 0.5% more
    // instructions per dashboard statement than the index scan planned from statistics).
    sqlx::raw_sql(
        "vacuum (analyze) public.calls, public.call_stats_daily, public.memberships,
                          public.organizations, public.agents, public.profiles, auth.users",
    )
    .execute(pool)
    .await?;
    Ok(SeedReport {
        first_email: format!("owner1-{run}@demo.switchboard.test"),
        run,
        orgs,
        agents,
        calls,
        seconds: started.elapsed().as_secs_f64(),
    })
}
