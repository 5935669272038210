//! Table definitions shared by both backends (only SQL types both dialects map alike).

diesel::table! {
    accounts (id) {
        id -> Text,
        email -> Text,
        display_name -> Text,
        password_hash -> Text,
        role -> Text,
        email_verified_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        notification_preferences -> Text,
        suspended_until -> Nullable<Timestamp>,
        banned_at -> Nullable<Timestamp>,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        account_id -> Text,
        device_name -> Nullable<Text>,
        refresh_token_hash -> Text,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::table! {
    spent_refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> Text,
        spent_at -> Timestamp,
    }
}

diesel::table! {
    email_tokens (token_hash) {
        token_hash -> Text,
        account_id -> Text,
        purpose -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        private_key -> Text,
        public_key -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    login_throttle (email) {
        email -> Text,
        failures -> Integer,
        last_failure_at -> Timestamp,
        blocked_until -> Nullable<Timestamp>,
    }
}

diesel::joinable!(sessions -> accounts (account_id));
diesel::joinable!(spent_refresh_tokens -> sessions (session_id));
diesel::joinable!(email_tokens -> accounts (account_id));

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    sessions,
    spent_refresh_tokens,
    email_tokens,
    signing_keys,
    login_throttle,
);

diesel::table! {
    categories (code) {
        code -> Text,
        name -> Text,
        description -> Text,
        group_name -> Text,
        keywords -> Text,
        handled_by -> Text,
        safety_notes -> Text,
        active -> Bool,
        questions -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    issues (id) {
        id -> Text,
        category_code -> Text,
        title -> Text,
        description -> Text,
        lat -> Double,
        lon -> Double,
        address -> Nullable<Text>,
        answers -> Text,
        status -> Text,
        reporter_id -> Nullable<Text>,
        anonymous -> Bool,
        duplicate_of -> Nullable<Text>,
        support_count -> Integer,
        follower_count -> Integer,
        photo_count -> Integer,
        closed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        adopted_by_group_id -> Nullable<Text>,
        partner_client_id -> Nullable<Text>,
        reporter_contact -> Nullable<Text>,
        media_url -> Nullable<Text>,
        open311_token -> Nullable<Text>,
        hidden_at -> Nullable<Timestamp>,
        lon_cell -> Integer,
    }
}

diesel::table! {
    partner_clients (id) {
        id -> Text,
        name -> Text,
        secret_hash -> Text,
        scopes -> Text,
        created_at -> Timestamp,
        secret_rotated_at -> Timestamp,
        disabled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    issue_supports (issue_id, account_id) {
        issue_id -> Text,
        account_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    issue_follows (issue_id, account_id) {
        issue_id -> Text,
        account_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    issue_events (id) {
        id -> Text,
        issue_id -> Text,
        kind -> Text,
        actor_id -> Nullable<Text>,
        actor_role -> Nullable<Text>,
        from_status -> Nullable<Text>,
        to_status -> Nullable<Text>,
        body -> Nullable<Text>,
        data -> Nullable<Text>,
        deleted_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        actor_client_id -> Nullable<Text>,
        hidden_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    issue_photos (id) {
        id -> Text,
        issue_id -> Text,
        uploader_id -> Nullable<Text>,
        width -> Integer,
        height -> Integer,
        byte_size -> BigInt,
        thumb_width -> Integer,
        thumb_height -> Integer,
        created_at -> Timestamp,
        hidden_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(issues -> categories (category_code));
diesel::joinable!(issue_events -> issues (issue_id));
diesel::joinable!(issue_photos -> issues (issue_id));

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    categories,
    issues,
    issue_supports,
    issue_follows,
    issue_events,
    issue_photos,
);

diesel::table! {
    groups (id) {
        id -> Text,
        name -> Text,
        name_key -> Text,
        description -> Text,
        lat -> Double,
        lon -> Double,
        radius_m -> Double,
        tags -> Text,
        join_policy -> Text,
        verified -> Bool,
        member_count -> Integer,
        created_by -> Nullable<Text>,
        archived_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        hidden_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    group_members (group_id, account_id) {
        group_id -> Text,
        account_id -> Text,
        role -> Text,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    opportunities (id) {
        id -> Text,
        group_id -> Nullable<Text>,
        issue_id -> Nullable<Text>,
        title -> Text,
        description -> Text,
        lat -> Nullable<Double>,
        lon -> Nullable<Double>,
        address -> Nullable<Text>,
        online -> Bool,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        capacity -> Nullable<Integer>,
        confirmed_count -> Integer,
        waitlist_count -> Integer,
        skills -> Text,
        safety_notes -> Text,
        safety_ack_required -> Bool,
        min_age -> Nullable<Integer>,
        auto_confirm -> Bool,
        status -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        partner_client_id -> Nullable<Text>,
        hidden_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    pledges (id) {
        id -> Text,
        account_id -> Nullable<Text>,
        opportunity_id -> Nullable<Text>,
        issue_id -> Nullable<Text>,
        kind -> Text,
        hours -> Nullable<Double>,
        skill -> Nullable<Text>,
        materials -> Nullable<Text>,
        quantity -> Nullable<Integer>,
        amount_minor -> Nullable<BigInt>,
        currency -> Nullable<Text>,
        note -> Nullable<Text>,
        min_pledgers -> Nullable<Integer>,
        condition_deadline -> Nullable<Timestamp>,
        status -> Text,
        claimed_hours -> Nullable<Double>,
        claimed_at -> Nullable<Timestamp>,
        verified_hours -> Nullable<Double>,
        verified_at -> Nullable<Timestamp>,
        verified_by -> Nullable<Text>,
        rejection_reason -> Nullable<Text>,
        safety_acknowledged -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(group_members -> groups (group_id));
diesel::joinable!(opportunities -> groups (group_id));
diesel::joinable!(pledges -> opportunities (opportunity_id));

diesel::allow_tables_to_appear_in_same_query!(groups, group_members, opportunities, pledges,);
diesel::allow_tables_to_appear_in_same_query!(groups, accounts);
diesel::allow_tables_to_appear_in_same_query!(groups, issues);
diesel::allow_tables_to_appear_in_same_query!(group_members, accounts);
diesel::allow_tables_to_appear_in_same_query!(group_members, issues);
diesel::allow_tables_to_appear_in_same_query!(opportunities, accounts);
diesel::allow_tables_to_appear_in_same_query!(opportunities, issues);
diesel::allow_tables_to_appear_in_same_query!(pledges, accounts);
diesel::allow_tables_to_appear_in_same_query!(pledges, issues);

diesel::table! {
    outbox_events (id) {
        id -> Text,
        kind -> Text,
        subject_type -> Text,
        subject_id -> Text,
        data -> Text,
        created_at -> Timestamp,
        dispatched_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(issues -> partner_clients (partner_client_id));
diesel::allow_tables_to_appear_in_same_query!(issues, partner_clients);

diesel::table! {
    webhook_subscriptions (id) {
        id -> Text,
        client_id -> Text,
        url -> Text,
        events -> Text,
        secret -> Text,
        description -> Nullable<Text>,
        consecutive_failures -> Integer,
        disabled_at -> Nullable<Timestamp>,
        disabled_reason -> Nullable<Text>,
        deleted_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        subscription_id -> Text,
        event_id -> Text,
        event_type -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        last_status_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        last_latency_ms -> Nullable<Integer>,
        last_attempt_at -> Nullable<Timestamp>,
        delivered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notifications (id) {
        id -> Text,
        account_id -> Text,
        event_id -> Text,
        kind -> Text,
        subject_type -> Text,
        subject_id -> Text,
        title -> Text,
        body -> Nullable<Text>,
        data -> Text,
        read_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    push_devices (token) {
        token -> Text,
        account_id -> Text,
        platform -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(webhook_subscriptions -> partner_clients (client_id));
diesel::joinable!(webhook_deliveries -> webhook_subscriptions (subscription_id));
diesel::joinable!(notifications -> accounts (account_id));
diesel::joinable!(push_devices -> accounts (account_id));
diesel::allow_tables_to_appear_in_same_query!(
    webhook_subscriptions,
    webhook_deliveries,
    partner_clients
);
diesel::allow_tables_to_appear_in_same_query!(notifications, accounts);
diesel::allow_tables_to_appear_in_same_query!(push_devices, accounts);

diesel::table! {
    idempotency_keys (scope, idempotency_key) {
        scope -> Text,
        idempotency_key -> Text,
        fingerprint -> Text,
        status -> Integer,
        headers -> Text,
        body -> Binary,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    sync_changes (seq) {
        seq -> BigInt,
        txid -> BigInt,
        entity_type -> Text,
        entity_id -> Text,
        account_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

// The sync feed filters the change log by what the reader relates to.
diesel::allow_tables_to_appear_in_same_query!(sync_changes, issues);
diesel::allow_tables_to_appear_in_same_query!(sync_changes, issue_supports);
diesel::allow_tables_to_appear_in_same_query!(sync_changes, issue_follows);
diesel::allow_tables_to_appear_in_same_query!(sync_changes, group_members);
diesel::allow_tables_to_appear_in_same_query!(sync_changes, pledges);
diesel::allow_tables_to_appear_in_same_query!(sync_changes, notifications);

diesel::table! {
    flags (id) {
        id -> Text,
        target_type -> Text,
        target_id -> Text,
        account_id -> Text,
        reason -> Text,
        details -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
        resolved_by -> Nullable<Text>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        actor_id -> Nullable<Text>,
        actor_role -> Text,
        action -> Text,
        target_type -> Text,
        target_id -> Text,
        before_state -> Nullable<Text>,
        after_state -> Nullable<Text>,
        reason -> Nullable<Text>,
        request_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    consents (id) {
        id -> Text,
        account_id -> Text,
        purpose -> Text,
        granted -> Bool,
        version -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(flags -> accounts (account_id));
diesel::joinable!(consents -> accounts (account_id));
diesel::allow_tables_to_appear_in_same_query!(flags, accounts);
diesel::allow_tables_to_appear_in_same_query!(flags, issues);
diesel::allow_tables_to_appear_in_same_query!(flags, issue_events);
diesel::allow_tables_to_appear_in_same_query!(flags, issue_photos);
diesel::allow_tables_to_appear_in_same_query!(flags, groups);
diesel::allow_tables_to_appear_in_same_query!(flags, opportunities);
diesel::allow_tables_to_appear_in_same_query!(consents, accounts);
// An issue's detail for a signed-in caller reads their session in the same statement.
diesel::allow_tables_to_appear_in_same_query!(sessions, issues);
diesel::allow_tables_to_appear_in_same_query!(sessions, categories);
diesel::allow_tables_to_appear_in_same_query!(sessions, issue_supports);
diesel::allow_tables_to_appear_in_same_query!(sessions, issue_follows);
