# What went wrong, in the words of our error pages and the picker. HTML like
# pages.ftl: arguments are escaped, the text is not.

## Headings of the error page, by kind of problem

error-heading-unavailable = Please try again in a moment
error-heading-not-found = Page not found
error-heading-upstream = Your server could not sign you in
error-heading-too-many = Too many sign-ins right now
error-heading-cannot-continue = This sign-in cannot continue

## Requests we cannot read

error-not-found = There is nothing at this address.
error-timeout = This took too long. Please try again.
error-unavailable = The service is temporarily unavailable. Please try again in a moment.
error-bad-location = The address to continue to is invalid.
error-request-too-large = The sign-in request is too large.
error-request-not-form = The sign-in request was not sent as a form.
error-request-not-text = The sign-in request is not valid text.
error-request-malformed = The sign-in request is malformed ({ $detail }).
error-callback-malformed = The address you were sent back to is malformed.
error-form-unreadable = The form could not be read.
error-choose-allow-deny = Choose Allow or Deny.
error-csrf = The form was not sent from this sign-in page. Reload the page and try again.
error-cross-site = This form was sent from another site. Go back to the application and sign in again.

## The application and its request

error-unknown-client = The application that sent you here is not registered with this service.
error-no-client-id = The request names no client (client_id is missing).
error-no-redirect-uri = The application did not say where to send you back (redirect_uri is missing).
error-unregistered-redirect = The application asked to send you back to an address it has not registered.
error-client-gone = The application you were signing in to is no longer registered.
error-client-address-invalid = The application's address is invalid.

## The sign-in itself

error-expired = This sign-in has expired or was already completed. Go back to the application and start again.
error-pushed-expired = This sign-in request has expired or was already used. Go back to the application and start again.
error-other-browser = This sign-in was started in another browser, or your browser did not keep our cookie.
    Go back to the application and start again.
error-callback-no-state = The server sent you back without the information we need. Start again from the application.
error-mix-up = This answer came from a different server than the one you chose. Start again from the application.
error-upstream-reported = Your server reported an error ({ $error }). You can try again or choose another server.
error-upstream-no-code = Your server sent you back without a sign-in code. Try again.
error-app-changed = Our registration on your server changed while you were signing in. Please try again.
error-account-check-failed = { $instance } did not answer when we checked who your account is ({ $detail }).
    Please try again in a moment.
error-wrong-account = You asked to sign in as { $expected }, but { $instance } signed you in as { $actual }.
    Switch accounts there, or choose your server again.
error-identity = { $instance } did not identify your account properly, so we cannot vouch for it.

## What the person typed into the picker

handle-empty = Enter your Fediverse address, like @you@example.social, or your server, like example.social.
handle-invalid = That doesn't look like a Fediverse address or server name. Try @you@example.social or example.social.
handle-not-https = Only https:// servers can be used.

## The person's server

upstream-blocked = { $instance } cannot be used with this service.
upstream-unreachable = We could not reach { $instance }. Check the spelling, or try again later.
upstream-timeout = { $instance } did not answer in time. Try again later.
upstream-busy = { $instance } is busy right now. Try again in a few minutes.
upstream-unavailable = { $instance } is having trouble right now. Try again later.
upstream-not-compatible = { $instance } does not look like a server we can sign you in with (Mastodon, Misskey and kin).
upstream-rejected = { $instance } refused to let us sign you in.
upstream-oauth-disabled = { $instance } does not allow apps to sign people in: its administrators have turned this off.
    Sign in with an account on another server.
upstream-no-secure-sign-in = { $instance } does not support a secure sign-in for apps: it is too old (Misskey before 2023.9,
    or a fork without its OAuth 2.0). Ask its administrators to upgrade, or sign in with an account on another server.
upstream-redirected = { $instance } sends us to another address. If your account lives on another server, enter that server's name.
upstream-internal = Something went wrong while contacting { $instance }. Try again.

## The operator's policy

refusal-instance-denied = This service does not accept accounts from { $instance }: its operator has blocked that server.
refusal-instance-not-allowed = This service only accepts accounts from the servers its operator has chosen, and { $instance } is not one of them.
refusal-bot = { $handle } is a bot account. This service accepts only accounts of people, not bots.
refusal-too-new = { $handle } is too new to sign in here: this service accepts accounts that are at least { $days ->
        [one] one day
       *[other] { $days } days
    } old. Please try again later.
refusal-age-unknown = Your server did not tell us when { $handle } was created, and this service accepts only accounts that are at least { $days ->
        [one] one day
       *[other] { $days } days
    } old, so it cannot let you in.
refusal-locked = { $handle } is a locked account (it approves its followers). This service does not accept locked accounts.
refusal-suspended = Your server reports that { $handle } is suspended. This service does not accept suspended accounts.
refusal-limited = Your server reports that { $handle } is limited by its moderators. This service does not accept limited accounts.

## Abuse limits

limit-logins = Too many sign-ins have been started from your network or on this service just now.
    Please wait a little and try again.
limit-picker = Too many servers have been tried from your network just now. Please wait a little and try again.
limit-new-instances = This service has set up sign-in with many new servers recently, and cannot add yours right now.
    Please try again later.
limit-api = Too many requests. Please wait a little and try again.

## Signing out

logout-unreadable = The sign-out request could not be read.
logout-malformed = The sign-out request is malformed.
logout-bad-hint = The application sent an invalid sign-out request (id_token_hint is not ours).
logout-client-mismatch = The application sent an invalid sign-out request (client_id does not match).
logout-unregistered-redirect = The application asked to send you to an address it has not registered.
logout-csrf = The form was not sent from our sign-out page. Go back to the application and sign out again.
